#!/usr/bin/env python3
"""Writes the dialect corpus beside this script (run it to regenerate).

Each file is one shape of ERP export; tests/dialects.rs reads each one with
its declared dialect and checks the values or the error it must give.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = ("NumFacture;DateFacture;CodeClient;RaisonSociale;SIRET;TVAIntra;Adresse;CP;Ville;"
          "EmailClient;Origine;RefCommande;CodeArticle;Libelle;Qte;Unite;PUHT;MontantHT;"
          "TauxTVA;MontantTVA;MontantTTC;Echeance;ModeReglement").split(";")

CUSTOMER_1 = ["0041007", "Café de l'Église", "01480106552224", "FR91148010655",
              "70 quai de la Seine", "01000", "Bourg-en-Bresse", "cafe@example.test"]
CUSTOMER_2 = ["0041008", "Le Petit Zinc", "", "", "2 rue Haute", "75011", "Paris",
              "zinc@example.test"]


def rows(date="02/12/2026", due="01/01/2027", dec=lambda s: s, label1="Échalotes longues 5 kg"):
    """The two base invoices, amounts written with a decimal comma first."""
    return [
        ["FA000101", date] + CUSTOMER_1 + ["WEB", "383124", "000123", label1, "6", "sac",
                                           dec("16,20"), dec("97,20"), dec("5,5"), dec("5,35"),
                                           dec("102,55"), due, "LCR 30 jours"],
        ["FA000101", date] + CUSTOMER_1 + ["CPT", "T261202-2-00002", "VI-BOEUF-ENTR-KG",
                                           "Entrecôte", dec("4,276"), "kg", dec("28,90"),
                                           dec("123,58"), dec("5,5"), dec("6,80"),
                                           dec("130,38"), due, "LCR 30 jours"],
        ["FA000102", date] + CUSTOMER_2 + ["WEB", "383125", "NA-FILM-ALU-300",
                                           "Film aluminium 300 m", "2", "rouleau", dec("18,60"),
                                           dec("37,20"), "20", dec("7,44"), dec("44,64"), due,
                                           "Virement"],
    ]


def quote(field, sep):
    if any(c in field for c in (sep, '"', "\n", "\r")):
        return '"' + field.replace('"', '""') + '"'
    return field


def csv_text(table, sep=";", end="\r\n", final_end=True):
    lines = [sep.join(quote(f, sep) for f in row) for row in table]
    return end.join(lines) + (end if final_end else "")


def write(name, text, encoding="cp1252", bom=False):
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    base = [HEADER] + rows()
    write("windows1252_semicolon_crlf.csv", csv_text(base))
    write("lf_line_ends.csv", csv_text(base, end="\n"))
    write("lone_cr_line_ends.csv", csv_text(base, end="\r"))
    write("no_final_line_end.csv", csv_text(base, final_end=False))
    write("iso885915_euro.csv",
          csv_text([HEADER] + rows(label1="Bœuf haché 5 € le kg")), encoding="iso8859_15")
    write("cp850_dos.csv", csv_text(base), encoding="cp850")
    write("utf8_bom.csv", csv_text(base), encoding="utf-8", bom=True)
    write("utf8_comma_decimal_point.csv",
          csv_text([HEADER] + rows(date="2026-12-02", due="2027-01-01",
                                   dec=lambda s: s.replace(",", "."),
                                   label1="Échalotes, longues, 5 kg"), sep=",", end="\n"),
          encoding="utf-8")
    write("tab_separated.tsv", csv_text(base, sep="\t"))
    write("excel_sep_line.csv", "sep=;\r\n" + csv_text(base))
    write("short_year_dates.csv", csv_text([HEADER] + rows(date="02/12/26", due="01/01/27")))
    quoted = [HEADER] + rows(label1="Échalotes; longues\r\n(sac de 5 kg)")
    write("quoted_newline_and_separator.csv", csv_text(quoted))

    big = rows()[2][:]
    big[14:21] = ["100", "colis", "1\u00a0234,56", "123 456,00", "20", "24\u00a0691,20",
                  "148\u202f147,20"]
    write("thousands_spaces.csv", csv_text([HEADER, big]), encoding="utf-8")
    dotted = rows()[2][:]
    dotted[14:21] = ["100", "colis", "1.234,56", "123.456,00", "20", "24.691,20",
                     "148.147,20"]
    write("thousands_dot.csv", csv_text([HEADER, dotted]))

    credit = [HEADER + ["FactureOrigine"]]
    for row in rows()[:1]:
        row = row[:]
        row[0] = "AV000201"
        row[14:21] = ["-6", "sac", "16,20", "-97,20", "5,5", "5,35-", "(102,55)"]
        credit.append(row + ["FA000101"])
    write("negative_amounts.csv", csv_text(credit))

    write_fixed()
    write_failures(base)


WIDTHS = [10, 10, 8, 20, 14, 13, 20, 5, 16, 18, 3, 16, 16, 24, 8, 7, 9, 10, 5, 9, 10, 10, 14]
NUMERIC = {"Qte", "PUHT", "MontantHT", "TauxTVA", "MontantTVA", "MontantTTC"}


def fixed_line(row):
    out = ""
    for name, width, field in zip(HEADER, WIDTHS, row):
        out += field.rjust(width) if name in NUMERIC else field.ljust(width)
    return out


def write_fixed():
    lines = ["FACTURES DU 02/12/2026 - EDITION ERP"] + [fixed_line(r) for r in rows()]
    # The writer trims trailing blanks of the last line.
    lines[-1] = lines[-1].rstrip()
    write("fixed_width.txt", "\r\n".join(lines) + "\r\n")
    toml = ["# The fixed-width export's layout, as a site file declares it.",
            'encoding = "windows-1252"', 'separator = ";"', 'decimal_mark = ","',
            'date_format = "dd-mm-yyyy"', 'line_end = "\\r\\n"', "",
            "[fixed_width]", "title_line = true"]
    start = 1
    for name, width in zip(HEADER, WIDTHS):
        toml += ["", "[[fixed_width.columns]]", f'name = "{name}"', f"start = {start}",
                 f"width = {width}"]
        start += width
    with open(os.path.join(HERE, "fixed_width.dialect.toml"), "w") as f:
        f.write("\n".join(toml) + "\n")
    longer = [fixed_line(r) for r in rows()]
    longer[1] = longer[1][:40] + "X" + longer[1][40:]
    write("fail_fixed_width_shifted.txt", "\r\n".join(longer) + "\r\n")


def write_failures(base):
    text = csv_text(base)
    write("fail_still_being_written.csv", text[: text.rindex("Film aluminium")])
    write("fail_wrong_separator.csv", csv_text(base, sep=","))
    write("fail_sep_line_names_another_separator.csv", "sep=,\r\n" + text)
    write("fail_utf8_in_a_windows1252_site.csv", text, encoding="utf-8")
    write("fail_decimal_point_in_a_comma_dialect.csv", text.replace("97,20", "97.20"))
    write("fail_thousands_dot_not_declared.csv",
          csv_text([HEADER, [f if f != "37,20" else "1.037,20" for f in rows()[2]]]))
    unquoted = text.replace("Entrecôte", "Entrecôte; VBF")
    write("fail_unquoted_separator_shifts_fields.csv", unquoted)
    write("fail_short_year_in_a_long_year_dialect.csv",
          csv_text([HEADER] + rows(date="02/12/26")))
    write("fail_negative_written_twice.csv", text.replace("44,64", "-(44,64)"))


if __name__ == "__main__":
    main()
