<?php
/**
 * The REST routes Relais calls, under /wp-json/relais/v1/, for users who can manage WooCommerce.
 *
 * - GET /invoices/<number>            the invoice held under a number, or 404;
 * - PUT /invoices/<number>            store a PDF (201 created, 200 identical, 409 conflict);
 * - GET /customers/<id>/invoices      a customer's invoices, sorted by number.
 *
 * @package RelaisInvoices
 */

defined( 'ABSPATH' ) || exit;

/**
 * REST routes.
 */
final class Relais_Invoice_Rest {

	const NAMESPACE_V1 = 'relais/v1';

	/** The only routes a WooCommerce API key may authenticate on behalf of this plugin. */
	const ROUTE_PATTERN = '#^/?relais/v1/(invoices/[^/]+|customers/[^/]+/invoices)/?$#D';

	/**
	 * Registers the hooks.
	 */
	public static function hook() {
		add_action( 'rest_api_init', array( __CLASS__, 'register_routes' ) );
		add_filter( 'woocommerce_rest_is_request_to_rest_api', array( __CLASS__, 'let_woocommerce_keys_in' ) );
	}

	/**
	 * Registers the routes.
	 */
	public static function register_routes() {
		register_rest_route(
			self::NAMESPACE_V1,
			'/invoices/(?P<number>[^/]+)',
			array(
				array(
					'methods'             => WP_REST_Server::READABLE,
					'callback'            => array( __CLASS__, 'get_invoice' ),
					'permission_callback' => array( __CLASS__, 'permission' ),
				),
				array(
					'methods'             => 'PUT',
					'callback'            => array( __CLASS__, 'put_invoice' ),
					'permission_callback' => array( __CLASS__, 'permission' ),
				),
			)
		);
		register_rest_route(
			self::NAMESPACE_V1,
			'/customers/(?P<id>[^/]+)/invoices',
			array(
				'methods'             => WP_REST_Server::READABLE,
				'callback'            => array( __CLASS__, 'customer_invoices' ),
				'permission_callback' => array( __CLASS__, 'permission' ),
			)
		);
	}

	/**
	 * WooCommerce only authenticates its API keys on its own namespaces (wc/, wc-*) unless told
	 * otherwise. Tell it, for exactly this plugin's routes: the route that WordPress will
	 * dispatch must be ours, so a `rest_route` parameter cannot smuggle the key onto another
	 * route.
	 *
	 * @param bool $is_api_request What WooCommerce decided so far.
	 * @return bool
	 */
	public static function let_woocommerce_keys_in( $is_api_request ) {
		if ( $is_api_request ) {
			return $is_api_request;
		}
		$route = self::requested_route();
		return null !== $route && 1 === preg_match( self::ROUTE_PATTERN, $route );
	}

	/**
	 * The REST route this request names, or null if it names none or is ambiguous.
	 *
	 * @return string|null
	 */
	private static function requested_route() {
		// phpcs:disable WordPress.Security.NonceVerification, WordPress.Security.ValidatedSanitizedInput -- read to compare only.
		$from_query = null;
		foreach ( array( $_GET, $_POST ) as $params ) {
			if ( isset( $params['rest_route'] ) ) {
				if ( ! is_string( $params['rest_route'] ) || ( null !== $from_query && $from_query !== $params['rest_route'] ) ) {
					return null;
				}
				$from_query = wp_unslash( $params['rest_route'] );
			}
		}
		if ( null !== $from_query ) {
			// WordPress dispatches a rest_route parameter in preference to the path.
			return $from_query;
		}
		$uri = isset( $_SERVER['REQUEST_URI'] ) ? wp_unslash( $_SERVER['REQUEST_URI'] ) : '';
		// phpcs:enable
		$path = wp_parse_url( '/' . ltrim( (string) $uri, '/' ), PHP_URL_PATH );
		if ( ! is_string( $path ) ) {
			return null;
		}
		$path = ltrim( $path, '/' );
		$home = trim( (string) wp_parse_url( home_url(), PHP_URL_PATH ), '/' );
		if ( '' !== $home ) {
			if ( 0 !== strpos( $path, $home . '/' ) ) {
				return null;
			}
			$path = substr( $path, strlen( $home ) + 1 );
		}
		if ( 0 === strpos( $path, 'index.php/' ) ) {
			$path = substr( $path, strlen( 'index.php/' ) );
		}
		$prefix = trailingslashit( rest_get_url_prefix() );
		if ( 0 !== strpos( $path, $prefix ) ) {
			return null;
		}
		return '/' . substr( $path, strlen( $prefix ) );
	}

	/**
	 * Only users who can manage WooCommerce (shop managers, administrators, and the user an
	 * API key belongs to, if that user can) may use the routes: 401 anonymous, 403 others.
	 *
	 * @return true|WP_Error
	 */
	public static function permission() {
		if ( current_user_can( 'manage_woocommerce' ) ) {
			return true;
		}
		return new WP_Error(
			'woocommerce_rest_cannot_view',
			__( 'Sorry, you cannot list resources.', 'relais-invoices' ),
			array( 'status' => rest_authorization_required_code() )
		);
	}

	/**
	 * GET /invoices/<number>.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function get_invoice( WP_REST_Request $request ) {
		$number = $request['number'];
		if ( ! Relais_Invoice_Store::valid_number( $number ) ) {
			return self::invalid_number();
		}
		$held = Relais_Invoice_Store::get( $number );
		if ( ! $held ) {
			/* translators: %s: invoice number */
			return self::error( 404, 'relais_invoice_not_found', sprintf( __( 'No invoice %s is held.', 'relais-invoices' ), $number ) );
		}
		return new WP_REST_Response( Relais_Invoice_Store::describe( $held ), 200 );
	}

	/**
	 * PUT /invoices/<number>, checked in the contract's order.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function put_invoice( WP_REST_Request $request ) {
		$number = $request['number'];
		if ( ! Relais_Invoice_Store::valid_number( $number ) ) {
			return self::invalid_number();
		}

		// Repeated headers arrive joined by commas, so they fail the pattern too.
		$customer = trim( (string) $request->get_header( 'x_relais_customer' ) );
		if ( 1 !== preg_match( '/^[0-9]{1,19}$/D', $customer ) || (int) $customer <= 0 ) {
			return self::error( 400, 'relais_invoice_invalid_customer', __( 'X-Relais-Customer must be one shop customer id > 0.', 'relais-invoices' ) );
		}
		$customer_id = (int) $customer;
		if ( ! get_userdata( $customer_id ) ) {
			return self::error( 400, 'relais_invoice_invalid_customer', __( 'X-Relais-Customer names no user of this shop.', 'relais-invoices' ) );
		}

		$type = strtolower( trim( explode( ';', (string) $request->get_header( 'content_type' ) )[0] ) );
		if ( 'application/pdf' !== $type ) {
			return self::error( 415, 'relais_invoice_unsupported_type', __( 'Content-Type must be application/pdf.', 'relais-invoices' ) );
		}

		$pdf = (string) $request->get_body();
		if ( strlen( $pdf ) > Relais_Invoice_Store::MAX_BYTES ) {
			/* translators: %d: byte limit */
			return self::error( 413, 'relais_invoice_too_large', sprintf( __( 'The PDF is larger than %d bytes.', 'relais-invoices' ), Relais_Invoice_Store::MAX_BYTES ) );
		}
		if ( 0 !== strncmp( $pdf, '%PDF-', 5 ) ) {
			return self::error( 400, 'relais_invoice_not_pdf', __( 'The body is not a PDF: it does not start with "%PDF-".', 'relais-invoices' ) );
		}

		$sha256   = hash( 'sha256', $pdf );
		$declared = $request->get_header( 'x_relais_sha256' );
		if ( null !== $declared && ! hash_equals( $sha256, strtolower( trim( $declared ) ) ) ) {
			/* translators: %s: SHA-256 of the body received */
			return self::error( 400, 'relais_invoice_checksum_mismatch', sprintf( __( 'X-Relais-Sha256 differs from the SHA-256 of the body received, %s.', 'relais-invoices' ), $sha256 ) );
		}

		$result = Relais_Invoice_Store::put( $number, $customer_id, $pdf, $sha256 );
		if ( is_wp_error( $result ) ) {
			return $result;
		}
		list( $outcome, $row ) = $result;
		$invoice               = Relais_Invoice_Store::describe( $row );
		if ( 'created' === $outcome ) {
			$response = new WP_REST_Response( $invoice, 201 );
			$response->header( 'Location', rest_url( self::NAMESPACE_V1 . '/invoices/' . $number ) );
			return $response;
		}
		if ( 'identical' === $outcome ) {
			return new WP_REST_Response( $invoice, 200 );
		}
		$error = self::error(
			409,
			'relais_invoice_conflict',
			/* translators: 1: invoice number, 2: customer id, 3: SHA-256 */
			sprintf( __( 'Invoice %1$s is already held for customer %2$d with SHA-256 %3$s; this upload differs.', 'relais-invoices' ), $number, $invoice['customer_id'], $invoice['sha256'] )
		);
		$error->add_data( array( 'status' => 409, 'held' => $invoice ) );
		return $error;
	}

	/**
	 * GET /customers/<id>/invoices.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function customer_invoices( WP_REST_Request $request ) {
		$id = trim( (string) $request['id'] );
		if ( 1 !== preg_match( '/^[0-9]{1,19}$/D', $id ) || (int) $id <= 0 ) {
			return self::error( 400, 'relais_invalid_customer', __( 'The customer id must be an integer > 0.', 'relais-invoices' ) );
		}
		$list = array();
		foreach ( Relais_Invoice_Store::for_customer( (int) $id ) as $row ) {
			$invoice = Relais_Invoice_Store::describe( $row );
			unset( $invoice['customer_id'] );
			$list[] = $invoice;
		}
		return new WP_REST_Response( $list, 200 );
	}

	/**
	 * The invalid-number error.
	 *
	 * @return WP_Error
	 */
	private static function invalid_number() {
		return self::error( 400, 'relais_invoice_invalid_number', __( 'The invoice number must be 1 to 64 characters among A-Z a-z 0-9 _ -.', 'relais-invoices' ) );
	}

	/**
	 * A WordPress-shaped error.
	 *
	 * @param int    $status  HTTP status.
	 * @param string $code    Error code.
	 * @param string $message Message.
	 * @return WP_Error
	 */
	private static function error( $status, $code, $message ) {
		return new WP_Error( $code, $message, array( 'status' => $status ) );
	}
}
