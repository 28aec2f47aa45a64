<?php
/**
 * Where invoices live: one row per invoice in a table, one PDF per invoice in a private folder.
 *
 * The PDF is written (and flushed) before its row is inserted, so a row never points at a
 * missing or partial file. A crash between the two leaves an orphan file with a random name,
 * which nothing links to; the retried upload then stores a new copy. The invoice number is the
 * table's primary key, so two uploads of one number racing each other cannot both win.
 *
 * @package RelaisInvoices
 */

defined( 'ABSPATH' ) || exit;

/**
 * The invoices the shop holds.
 */
final class Relais_Invoice_Store {

	/** Largest PDF accepted, in bytes (10 MiB). */
	const MAX_BYTES = 10485760;

	/** Invoice numbers: 1 to 64 of A-Z a-z 0-9 _ - (also keeps them safe in headers and HTML). */
	const NUMBER_PATTERN = '/^[A-Za-z0-9_-]{1,64}$/D';

	/** Stored file names: 32 random hex digits, never derived from the invoice number. */
	const FILE_PATTERN = '/^[0-9a-f]{32}\.pdf$/D';

	/**
	 * Name of the table.
	 *
	 * @return string
	 */
	public static function table() {
		global $wpdb;
		return $wpdb->prefix . 'relais_invoices';
	}

	/**
	 * Whether a string is a valid invoice number.
	 *
	 * @param mixed $number Candidate.
	 * @return bool
	 */
	public static function valid_number( $number ) {
		return is_string( $number ) && 1 === preg_match( self::NUMBER_PATTERN, $number );
	}

	/**
	 * The private folder: RELAIS_INVOICES_DIR if defined (best: outside the web root), else
	 * wp-content/uploads/relais-invoices, protected by a deny-all .htaccess and random names.
	 *
	 * @return string Absolute path without a trailing slash.
	 */
	public static function dir() {
		if ( defined( 'RELAIS_INVOICES_DIR' ) && is_string( RELAIS_INVOICES_DIR ) && '' !== RELAIS_INVOICES_DIR ) {
			return untrailingslashit( RELAIS_INVOICES_DIR );
		}
		$uploads = wp_upload_dir( null, false );
		return untrailingslashit( $uploads['basedir'] ) . '/relais-invoices';
	}

	/**
	 * Creates or upgrades the table and the private folder. Safe to run again.
	 */
	public static function install() {
		global $wpdb;
		$table = self::table();
		// The number is compared byte for byte (ascii_bin): "F1" and "f1" are two invoices.
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix, no user input.
		$wpdb->query(
			"CREATE TABLE IF NOT EXISTS `{$table}` (
				number VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
				customer_id BIGINT UNSIGNED NOT NULL,
				sha256 CHAR(64) CHARACTER SET ascii NOT NULL,
				size INT UNSIGNED NOT NULL,
				file VARCHAR(64) CHARACTER SET ascii NOT NULL,
				received_at DATETIME NOT NULL,
				PRIMARY KEY (number),
				KEY customer_id (customer_id)
			) " . $wpdb->get_charset_collate()
		);
		self::protect_dir();
		update_option( 'relais_invoices_version', RELAIS_INVOICES_VERSION, false );
	}

	/**
	 * Makes the folder and the files that keep web servers from listing or serving it.
	 *
	 * @return bool Whether the folder exists and is writable.
	 */
	public static function protect_dir() {
		$dir = self::dir();
		if ( ! wp_mkdir_p( $dir ) ) {
			return false;
		}
		$guards = array(
			'.htaccess'  => "# Relais invoices: never served directly, only through the plugin's download handler.\n"
				. "<IfModule mod_authz_core.c>\n\tRequire all denied\n</IfModule>\n"
				. "<IfModule !mod_authz_core.c>\n\tOrder allow,deny\n\tDeny from all\n</IfModule>\n"
				. "Options -Indexes\n",
			'index.html' => '',
			'index.php'  => "<?php\n// Silence is golden.\n",
		);
		foreach ( $guards as $name => $content ) {
			$path = $dir . '/' . $name;
			if ( ! file_exists( $path ) ) {
				// phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_file_put_contents
				file_put_contents( $path, $content );
			}
		}
		return wp_is_writable( $dir );
	}

	/**
	 * The invoice held under a number.
	 *
	 * @param string $number A valid invoice number.
	 * @return object|null Row with number, customer_id, sha256, size, file, received_at.
	 */
	public static function get( $number ) {
		global $wpdb;
		$table = self::table();
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$row = $wpdb->get_row( $wpdb->prepare( "SELECT * FROM `{$table}` WHERE number = %s", $number ) );
		return $row ? $row : null;
	}

	/**
	 * A customer's invoices, sorted by number (byte order).
	 *
	 * @param int $customer_id WordPress user id.
	 * @return object[]
	 */
	public static function for_customer( $customer_id ) {
		global $wpdb;
		$table = self::table();
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQL.InterpolatedNotPrepared
		$rows = $wpdb->get_results( $wpdb->prepare( "SELECT * FROM `{$table}` WHERE customer_id = %d ORDER BY number ASC", $customer_id ) );
		return is_array( $rows ) ? $rows : array();
	}

	/**
	 * Stores a PDF under a number unless something is held there already.
	 *
	 * @param string $number      A valid invoice number.
	 * @param int    $customer_id Existing user id.
	 * @param string $pdf         The PDF bytes, already checked.
	 * @param string $sha256      Lowercase hex SHA-256 of $pdf.
	 * @return array|WP_Error array( 'created'|'identical'|'conflict', row ).
	 */
	public static function put( $number, $customer_id, $pdf, $sha256 ) {
		global $wpdb;
		$held = self::get( $number );
		if ( $held ) {
			return array( self::compare( $held, $customer_id, $sha256 ), $held );
		}

		if ( ! self::protect_dir() ) {
			return new WP_Error( 'relais_storage_error', __( 'The invoice folder cannot be written.', 'relais-invoices' ), array( 'status' => 500 ) );
		}
		$file = bin2hex( random_bytes( 16 ) ) . '.pdf';
		$path = self::dir() . '/' . $file;
		if ( ! self::write_file( $path, $pdf ) ) {
			return new WP_Error( 'relais_storage_error', __( 'The invoice could not be written.', 'relais-invoices' ), array( 'status' => 500 ) );
		}

		$row = array(
			'number'      => $number,
			'customer_id' => (int) $customer_id,
			'sha256'      => $sha256,
			'size'        => strlen( $pdf ),
			'file'        => $file,
			'received_at' => gmdate( 'Y-m-d H:i:s' ),
		);
		$suppress = $wpdb->suppress_errors( true );
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery
		$inserted = $wpdb->insert( self::table(), $row, array( '%s', '%d', '%s', '%d', '%s', '%s' ) );
		$wpdb->suppress_errors( $suppress );
		if ( 1 === $inserted ) {
			return array( 'created', (object) $row );
		}

		// Lost a race with an upload of the same number, or the database failed.
		wp_delete_file( $path );
		$held = self::get( $number );
		if ( $held ) {
			return array( self::compare( $held, $customer_id, $sha256 ), $held );
		}
		return new WP_Error( 'relais_storage_error', __( 'The invoice could not be recorded.', 'relais-invoices' ), array( 'status' => 500 ) );
	}

	/**
	 * Absolute path of a held invoice's PDF, or null if its row is not trustworthy.
	 *
	 * @param object $row A row from get().
	 * @return string|null
	 */
	public static function path( $row ) {
		if ( ! is_string( $row->file ) || 1 !== preg_match( self::FILE_PATTERN, $row->file ) ) {
			return null;
		}
		return self::dir() . '/' . $row->file;
	}

	/**
	 * The public description of an invoice, as the REST routes answer it.
	 *
	 * @param object $row A row.
	 * @return array
	 */
	public static function describe( $row ) {
		return array(
			'number'      => (string) $row->number,
			'customer_id' => (int) $row->customer_id,
			'sha256'      => (string) $row->sha256,
			'size'        => (int) $row->size,
			'received_at' => gmdate( 'Y-m-d\TH:i:s\Z', strtotime( $row->received_at . ' UTC' ) ),
		);
	}

	/**
	 * Identical (same customer, same bytes) or conflict.
	 *
	 * @param object $held        Row held.
	 * @param int    $customer_id Customer of the upload.
	 * @param string $sha256      SHA-256 of the upload.
	 * @return string
	 */
	private static function compare( $held, $customer_id, $sha256 ) {
		$same = (int) $held->customer_id === (int) $customer_id && hash_equals( (string) $held->sha256, $sha256 );
		return $same ? 'identical' : 'conflict';
	}

	/**
	 * Writes a new file (never overwrites), flushed to disk where PHP can.
	 *
	 * @param string $path  Absolute path.
	 * @param string $bytes Content.
	 * @return bool
	 */
	private static function write_file( $path, $bytes ) {
		// phpcs:disable WordPress.WP.AlternativeFunctions -- a new private file, written and synced in place.
		$handle = fopen( $path, 'xb' );
		if ( false === $handle ) {
			return false;
		}
		$ok = fwrite( $handle, $bytes ) === strlen( $bytes ) && fflush( $handle );
		if ( $ok && function_exists( 'fsync' ) ) {
			$ok = fsync( $handle );
		}
		fclose( $handle );
		// phpcs:enable
		if ( ! $ok ) {
			wp_delete_file( $path );
			return false;
		}
		chmod( $path, 0640 );
		return true;
	}
}
