<?php
/**
 * Sets up the throwaway test site, run by run.sh with the PHP CLI:
 *
 *   php setup-site.php install   <site dir> <site url>   install WordPress (tables, admin)
 *   php setup-site.php configure <site dir> <site url>   theme, permalinks, plugin, users,
 *                                                         application passwords, My account page;
 *                                                         prints the credentials as JSON
 */

if ( PHP_SAPI !== 'cli' || $argc !== 4 ) {
	fwrite( STDERR, "usage: php setup-site.php install|configure <site dir> <site url>\n" );
	exit( 2 );
}
list( , $mode, $site, $url ) = $argv;
$parts                  = parse_url( $url );
$_SERVER['HTTP_HOST']   = $parts['host'] . ( isset( $parts['port'] ) ? ':' . $parts['port'] : '' );
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_NAME'] = $parts['host'];

function fail( $what ) {
	fwrite( STDERR, "setup-site: $what\n" );
	exit( 1 );
}

if ( 'install' === $mode ) {
	define( 'WP_INSTALLING', true );
	require $site . '/wp-load.php';
	require_once ABSPATH . 'wp-admin/includes/upgrade.php';
	$result = wp_install( 'Relais test shop', 'admin', 'admin@example.invalid', false, '', wp_generate_password( 24 ) );
	if ( empty( $result['user_id'] ) ) {
		fail( 'wp_install failed' );
	}
	exit( 0 );
}

if ( 'configure' !== $mode ) {
	fail( "unknown mode $mode" );
}

require $site . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
require_once ABSPATH . 'wp-admin/includes/user.php';

relais_test_wc_stub_roles();
switch_theme( 'relais-test' );
update_option( 'permalink_structure', '/%postname%/' );

$activated = activate_plugin( 'relais-invoices/relais-invoices.php' );
if ( is_wp_error( $activated ) ) {
	fail( 'activate_plugin: ' . $activated->get_error_message() );
}

$out = array();
foreach ( array(
	'manager' => 'shop_manager',
	'alice'   => 'customer',
	'bob'     => 'customer',
	'carol'   => 'customer',
) as $login => $role ) {
	$password = wp_generate_password( 20, false );
	$id       = wp_insert_user(
		array(
			'user_login' => $login,
			'user_pass'  => $password,
			'user_email' => $login . '@example.invalid',
			'role'       => $role,
		)
	);
	if ( is_wp_error( $id ) ) {
		fail( "user $login: " . $id->get_error_message() );
	}
	$app = WP_Application_Passwords::create_new_application_password( $id, array( 'name' => 'relais-test' ) );
	if ( is_wp_error( $app ) ) {
		fail( "application password of $login: " . $app->get_error_message() );
	}
	$out[ $login ] = array(
		'id'           => $id,
		'password'     => $password,
		'app_password' => $app[0],
	);
}

$page = wp_insert_post(
	array(
		'post_type'    => 'page',
		'post_status'  => 'publish',
		'post_name'    => 'my-account',
		'post_title'   => 'My account',
		'post_content' => '[woocommerce_my_account]',
	),
	true
);
if ( is_wp_error( $page ) ) {
	fail( 'My account page: ' . $page->get_error_message() );
}
update_option( 'woocommerce_myaccount_page_id', $page );
flush_rewrite_rules();

echo json_encode( $out ), "\n";
