//! An import file is never written twice, whatever moment a crash hits:
//! a staged batch is only renamed into place, never rewritten, even after
//! the ERP has taken the file away.

use relais::erp::{deliver_imports, ErpSettings};
use relais::mapping::import::{ImportRow, RowType};
use relais::store::{encode, Dest, Intake, IntakeOutcome, Kind, State, Store, Transition};
use rust_decimal::Decimal;

fn settings(dir: &std::path::Path) -> ErpSettings {
    ErpSettings {
        max_docs_per_file: 10,
        ..ErpSettings::under(dir)
    }
}

/// One queued ticket, and a batch made of it and staged (its temporary
/// file complete), as a crash would leave them just before the rename.
fn staged_batch(store: &Store, settings: &ErpSettings) -> std::path::PathBuf {
    let intake = Intake {
        kind: Kind::Ticket,
        external_id: "T1".into(),
        revision: "1".into(),
        day: jiff::civil::date(2026, 12, 2),
        amount: Decimal::ZERO,
        body: b"{}".to_vec(),
        parent: None,
    };
    let IntakeOutcome::New(id) = store.intake(vec![intake]).expect("intake")[0] else {
        panic!("new")
    };
    let row = ImportRow {
        kind: RowType::Reg,
        reference: "T1".into(),
        origin: "CPT".into(),
        date: jiff::civil::date(2026, 12, 2),
        customer: "C1".into(),
        article: "CB".into(),
        label: "Règlement CB".into(),
        quantity: None,
        unit_price_ht: None,
        vat_rate: None,
        amount_ht: None,
        amount_vat: None,
        amount_ttc: Decimal::new(1039, 2),
        info: String::new(),
    };
    let queue = Transition {
        mapped: Some(encode(&vec![row]).expect("encode")),
        ..Transition::to(id, State::Queued(Dest::Erp), "mapped")
    };
    store.apply(vec![queue]).expect("queue");
    let batch = store
        .create_batch(Dest::Erp, &[id], |n| format!("CMD_{n}.csv"))
        .expect("batch");
    let target = settings.import_dir.join(&batch.name);
    pos_bridge::spool::ensure_dir(&settings.import_dir).expect("folder");
    pos_bridge::spool::write_temp(&target, b"bytes of the file").expect("temp");
    store.stage_batch(&batch).expect("stage");
    target
}

#[test]
fn a_staged_file_left_under_its_temporary_name_is_renamed_into_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = settings(dir.path());
    let store = Store::open(&dir.path().join("relais.redb")).expect("store");
    let target = staged_batch(&store, &settings);
    let tz = jiff::tz::TimeZone::get("Europe/Paris").expect("tz");
    let report = deliver_imports(&store, &settings, &tz).expect("recover");
    assert_eq!(report.recovered, 1);
    assert_eq!(
        std::fs::read(&target).expect("renamed"),
        b"bytes of the file"
    );
    assert!(!pos_bridge::spool::temp_path(&target).exists());
}

#[test]
fn a_staged_file_the_erp_already_took_is_not_written_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = settings(dir.path());
    let store = Store::open(&dir.path().join("relais.redb")).expect("store");
    let target = staged_batch(&store, &settings);
    // The rename happened, then the ERP imported and removed the file,
    // all before Relais could record the delivery.
    pos_bridge::spool::publish_temp(&pos_bridge::spool::temp_path(&target), &target).expect("mv");
    std::fs::remove_file(&target).expect("ERP takes it");
    let tz = jiff::tz::TimeZone::get("Europe/Paris").expect("tz");
    deliver_imports(&store, &settings, &tz).expect("recover");
    assert!(!target.exists(), "the file must not come back");
    let t1 = store
        .find(Kind::Ticket, "T1")
        .expect("find")
        .expect("present");
    assert_eq!(t1.state, State::Delivered(Dest::Erp));
}

/// After a restart, the import files of the last minute (still in the
/// import folder, or already in the ERP's done folder) count against the
/// rate; older files and files that are not Relais's do not.
#[test]
fn the_files_of_the_minute_before_a_restart_are_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = settings(dir.path());
    let done = dir.path().join("done");
    settings.import_done_dir = Some(done.clone());
    for folder in [&settings.import_dir, &done] {
        std::fs::create_dir_all(folder).expect("folder");
    }
    let write = |path: std::path::PathBuf, age_secs: u64| {
        let file = std::fs::File::create(&path).expect("file");
        let at = std::time::SystemTime::now() - std::time::Duration::from_secs(age_secs);
        file.set_modified(at).expect("set time");
    };
    write(settings.import_dir.join("CMD_20261202_000007.csv"), 5);
    write(done.join("CMD_20261202_000006.csv"), 20);
    write(done.join("CMD_20261202_000001.csv"), 3600);
    write(settings.import_dir.join("notes.txt"), 1);
    let now = jiff::Timestamp::now();
    let recent = relais::erp::recent_imports(&settings, now);
    assert_eq!(recent.len(), 2, "{recent:?}");
    let mut rate = relais::erp::throttle::FileRate::new(3);
    rate.seed(now, recent);
    assert_eq!(rate.room(now), 1);
}
