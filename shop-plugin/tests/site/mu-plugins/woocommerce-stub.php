<?php
/**
 * Plugin Name: WooCommerce stub (Relais plugin tests only — NEVER install on a real shop)
 *
 * WooCommerce cannot be installed where the tests run. This stub provides only what
 * WooCommerce would provide to the Relais invoices plugin, and nothing else:
 *
 * - the `[woocommerce_my_account]` shortcode, reduced to what WooCommerce's does for a
 *   logged-in user: the account menu from the `woocommerce_account_menu_items` filter, then
 *   `woocommerce_account_<endpoint>_endpoint` for the endpoint in the URL;
 * - the roles and the `manage_woocommerce` capability WooCommerce creates when installed
 *   (added by setup-site.php through relais_test_wc_stub_roles()).
 *
 * WooCommerce's API-key authentication is not stubbed: the tests authenticate with WordPress
 * application passwords (the same Basic-auth shape), and check the plugin's filter that admits
 * WooCommerce keys separately.
 */

defined( 'ABSPATH' ) || exit;

/** WooCommerce's installer: customer and shop_manager roles, manage_woocommerce for admins. */
function relais_test_wc_stub_roles() {
	add_role( 'customer', 'Customer', array( 'read' => true ) );
	add_role( 'shop_manager', 'Shop manager', array( 'read' => true, 'manage_woocommerce' => true ) );
	get_role( 'administrator' )->add_cap( 'manage_woocommerce' );
}

add_shortcode(
	'woocommerce_my_account',
	static function () {
		global $wp;
		if ( ! is_user_logged_in() ) {
			return '<p class="wc-stub-login">Please log in.</p>';
		}
		$items = apply_filters(
			'woocommerce_account_menu_items',
			array( 'dashboard' => 'Dashboard', 'orders' => 'Orders', 'customer-logout' => 'Log out' )
		);
		ob_start(); // WooCommerce renders templates; this is the same markup, reduced.
		echo '<nav class="woocommerce-MyAccount-navigation"><ul>';
		foreach ( $items as $key => $label ) {
			echo '<li class="nav-' . esc_attr( $key ) . '">' . esc_html( $label ) . '</li>';
		}
		echo '</ul></nav><div class="woocommerce-MyAccount-content">';
		// As woocommerce_account_content(): the first query variable with an endpoint action.
		foreach ( $wp->query_vars as $key => $value ) {
			if ( 'pagename' !== $key && has_action( 'woocommerce_account_' . $key . '_endpoint' ) ) {
				do_action( 'woocommerce_account_' . $key . '_endpoint', $value );
				break;
			}
		}
		echo '</div>';
		return ob_get_clean();
	}
);
