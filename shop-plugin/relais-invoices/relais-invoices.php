<?php
/**
 * Plugin Name:       Relais invoices
 * Description:       Receives invoice PDFs from Relais over an authenticated REST route, keeps them out of public URLs, and shows each customer their own invoices in WooCommerce "My account".
 * Version:           1.0.0
 * Requires at least: 5.6
 * Requires PHP:      7.4
 * Author:            Relais
 * License:           GPL-2.0-or-later
 * Text Domain:       relais-invoices
 *
 * @package RelaisInvoices
 */

defined( 'ABSPATH' ) || exit;

define( 'RELAIS_INVOICES_VERSION', '1.0.0' );

require_once __DIR__ . '/includes/class-relais-invoice-store.php';
require_once __DIR__ . '/includes/class-relais-invoice-rest.php';
require_once __DIR__ . '/includes/class-relais-invoice-account.php';

Relais_Invoice_Rest::hook();
Relais_Invoice_Account::hook();

register_activation_hook( __FILE__, 'relais_invoices_activate' );
register_deactivation_hook( __FILE__, 'flush_rewrite_rules' );

/**
 * Creates the table and the private folder, and adds the "My account" endpoint's rewrite rules.
 */
function relais_invoices_activate() {
	Relais_Invoice_Store::install();
	Relais_Invoice_Account::add_endpoint();
	flush_rewrite_rules();
}

/**
 * Upgrades the table after the plugin files were replaced without a new activation.
 */
add_action(
	'plugins_loaded',
	static function () {
		if ( get_option( 'relais_invoices_version' ) !== RELAIS_INVOICES_VERSION ) {
			Relais_Invoice_Store::install();
		}
	}
);
