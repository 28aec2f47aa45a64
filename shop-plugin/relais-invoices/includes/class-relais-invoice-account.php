<?php
/**
 * The customer's side: an "Invoices" tab in WooCommerce "My account" listing the logged-in
 * customer's own invoices, and a download handler that serves a PDF only to its owner (or to
 * a user who can manage WooCommerce).
 *
 * @package RelaisInvoices
 */

defined( 'ABSPATH' ) || exit;

/**
 * "My account" tab and downloads.
 */
final class Relais_Invoice_Account {

	/** The My-account endpoint: /my-account/relais-invoices/. */
	const ENDPOINT = 'relais-invoices';

	/** The admin-post.php action of the download handler. */
	const DOWNLOAD_ACTION = 'relais_invoice_download';

	/**
	 * Registers the hooks.
	 */
	public static function hook() {
		add_action( 'init', array( __CLASS__, 'add_endpoint' ) );
		add_filter( 'query_vars', array( __CLASS__, 'query_vars' ) );
		add_filter( 'woocommerce_account_menu_items', array( __CLASS__, 'menu_items' ) );
		add_action( 'woocommerce_account_' . self::ENDPOINT . '_endpoint', array( __CLASS__, 'render' ) );
		add_action( 'admin_post_' . self::DOWNLOAD_ACTION, array( __CLASS__, 'download' ) );
		add_action( 'admin_post_nopriv_' . self::DOWNLOAD_ACTION, 'auth_redirect' );
	}

	/**
	 * Adds the endpoint to pages (My account is a page).
	 */
	public static function add_endpoint() {
		add_rewrite_endpoint( self::ENDPOINT, EP_ROOT | EP_PAGES );
	}

	/**
	 * Declares the endpoint's query variable.
	 *
	 * @param string[] $vars Query variables.
	 * @return string[]
	 */
	public static function query_vars( $vars ) {
		$vars[] = self::ENDPOINT;
		return $vars;
	}

	/**
	 * Puts "Invoices" in the account menu, before "Log out".
	 *
	 * @param array $items Endpoint => label.
	 * @return array
	 */
	public static function menu_items( $items ) {
		$logout = array();
		if ( isset( $items['customer-logout'] ) ) {
			$logout = array( 'customer-logout' => $items['customer-logout'] );
			unset( $items['customer-logout'] );
		}
		$items[ self::ENDPOINT ] = self::title();
		return $items + $logout;
	}

	/**
	 * The tab's title.
	 *
	 * @return string
	 */
	public static function title() {
		return __( 'Invoices', 'relais-invoices' );
	}

	/**
	 * Lists the logged-in customer's invoices. Only ever the current user's.
	 */
	public static function render() {
		$user_id = get_current_user_id();
		if ( $user_id <= 0 ) {
			return;
		}
		$invoices = Relais_Invoice_Store::for_customer( $user_id );
		if ( ! $invoices ) {
			echo '<p class="relais-invoices-empty">' . esc_html__( 'No invoices yet.', 'relais-invoices' ) . '</p>';
			return;
		}
		echo '<table class="relais-invoices shop_table shop_table_responsive"><thead><tr>';
		echo '<th>' . esc_html__( 'Invoice', 'relais-invoices' ) . '</th>';
		echo '<th>' . esc_html__( 'Date', 'relais-invoices' ) . '</th>';
		echo '<th>' . esc_html__( 'Size', 'relais-invoices' ) . '</th>';
		echo '<th><span class="screen-reader-text">' . esc_html__( 'Download', 'relais-invoices' ) . '</span></th>';
		echo '</tr></thead><tbody>';
		foreach ( $invoices as $row ) {
			$date = wp_date( get_option( 'date_format' ), (int) strtotime( $row->received_at . ' UTC' ) );
			printf(
				'<tr><td class="relais-invoice-number">%1$s</td><td>%2$s</td><td>%3$s</td><td><a class="button relais-invoice-download" href="%4$s">%5$s</a></td></tr>',
				esc_html( $row->number ),
				esc_html( (string) $date ),
				esc_html( (string) size_format( (int) $row->size ) ),
				esc_url( self::download_url( $row->number ) ),
				esc_html__( 'Download', 'relais-invoices' )
			);
		}
		echo '</tbody></table>';
	}

	/**
	 * The download link of an invoice for the current user, with a nonce bound to the user's
	 * session.
	 *
	 * @param string $number Invoice number.
	 * @return string
	 */
	public static function download_url( $number ) {
		return add_query_arg(
			array(
				'action'   => self::DOWNLOAD_ACTION,
				'number'   => rawurlencode( $number ),
				'_wpnonce' => wp_create_nonce( self::DOWNLOAD_ACTION ),
			),
			admin_url( 'admin-post.php' )
		);
	}

	/**
	 * Serves a PDF to its owner. Anyone else gets the same 404 as for a number that is not held,
	 * so customers cannot probe which numbers exist.
	 */
	public static function download() {
		// phpcs:disable WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- checked against strict patterns below.
		$nonce  = isset( $_GET['_wpnonce'] ) ? wp_unslash( $_GET['_wpnonce'] ) : '';
		$number = isset( $_GET['number'] ) ? wp_unslash( $_GET['number'] ) : '';
		// phpcs:enable
		if ( ! is_string( $nonce ) || ! wp_verify_nonce( $nonce, self::DOWNLOAD_ACTION ) ) {
			wp_die( esc_html__( 'This download link has expired. Open your invoices again.', 'relais-invoices' ), '', array( 'response' => 403 ) );
		}
		if ( ! Relais_Invoice_Store::valid_number( $number ) ) {
			wp_die( esc_html__( 'Invalid invoice number.', 'relais-invoices' ), '', array( 'response' => 400 ) );
		}
		$row   = Relais_Invoice_Store::get( $number );
		$owner = $row && (int) $row->customer_id === get_current_user_id();
		$path  = $row ? Relais_Invoice_Store::path( $row ) : null;
		if ( ! $row || ! ( $owner || current_user_can( 'manage_woocommerce' ) ) || null === $path || ! is_readable( $path ) ) {
			wp_die( esc_html__( 'Invoice not found.', 'relais-invoices' ), '', array( 'response' => 404 ) );
		}

		while ( ob_get_level() > 0 ) {
			ob_end_clean();
		}
		nocache_headers();
		header( 'Content-Type: application/pdf' );
		header( 'Content-Disposition: attachment; filename="' . $number . '.pdf"' );
		header( 'Content-Length: ' . (string) filesize( $path ) );
		header( 'X-Content-Type-Options: nosniff' );
		header( 'Content-Security-Policy: default-src \'none\'; sandbox' );
		// phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_readfile
		readfile( $path );
		exit;
	}
}
