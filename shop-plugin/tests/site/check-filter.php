<?php
/**
 * Checks the plugin's `woocommerce_rest_is_request_to_rest_api` filter, which is what lets a
 * WooCommerce API key (the credential Relais sends) authenticate this plugin's routes and no
 * other route. WooCommerce is not installed here, so the filter is called directly.
 *
 *   php check-filter.php <site dir> <site url>
 *
 * Prints one "PASS name" or "FAIL name" line per case.
 */

list( , $site, $url ) = $argv;
$parts                  = parse_url( $url );
$_SERVER['HTTP_HOST']   = $parts['host'] . ( isset( $parts['port'] ) ? ':' . $parts['port'] : '' );
$_SERVER['REQUEST_URI'] = '/';
require $site . '/wp-load.php';

$cases = array(
	// request URI, $_GET, expected.
	array( '/wp-json/relais/v1/invoices/FA-1', array(), true ),
	array( '/wp-json/relais/v1/invoices/FA-1?consumer_key=x', array( 'consumer_key' => 'x' ), true ),
	array( '/wp-json/relais/v1/customers/12/invoices', array(), true ),
	array( '/?rest_route=/relais/v1/invoices/FA-1', array( 'rest_route' => '/relais/v1/invoices/FA-1' ), true ),
	array( '/index.php/wp-json/relais/v1/invoices/FA-1', array(), true ),
	array( '/wp-json/wp/v2/users/me', array(), false ),
	array( '/wp-json/relais/v1/invoices/FA-1?rest_route=/wp/v2/users/me', array( 'rest_route' => '/wp/v2/users/me' ), false ),
	array( '/?rest_route=/wp/v2/users&x=/wp-json/relais/v1/invoices/FA-1', array( 'rest_route' => '/wp/v2/users', 'x' => '/wp-json/relais/v1/invoices/FA-1' ), false ),
	array( '/wp-json/wp/v2/posts?x=/wp-json/relais/v1/invoices/FA-1', array( 'x' => '/wp-json/relais/v1/invoices/FA-1' ), false ),
	array( '/wp-json/relais/v1/invoices/FA-1/../../../wp/v2/users', array(), false ),
	array( '/wp-json/relais/v1/', array(), false ),
	array( '/shop/?p=/wp-json/relais/v1/invoices/FA-1', array( 'p' => '/wp-json/relais/v1/invoices/FA-1' ), false ),
);
foreach ( $cases as $case ) {
	list( $uri, $get, $expected ) = $case;
	$_SERVER['REQUEST_URI']       = $uri;
	$_GET                         = wp_slash( $get );
	$_POST                        = array();
	$got                          = apply_filters( 'woocommerce_rest_is_request_to_rest_api', false );
	$name                         = sprintf( 'WooCommerce API keys %s %s', $expected ? 'admitted on' : 'not admitted on', $uri );
	echo ( $got === $expected ? 'PASS ' : 'FAIL ' ), $name, "\n";
}
// A route WooCommerce itself already admitted stays admitted.
$_SERVER['REQUEST_URI'] = '/wp-json/wc/v3/orders';
$_GET                   = array();
echo ( true === apply_filters( 'woocommerce_rest_is_request_to_rest_api', true ) ? 'PASS ' : 'FAIL ' ), "WooCommerce's own decision kept for /wp-json/wc/v3/orders\n";
