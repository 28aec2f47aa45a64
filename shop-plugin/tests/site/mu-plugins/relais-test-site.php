<?php
/**
 * Plugin Name: Relais test site settings (tests only)
 *
 * The throwaway site must send nothing anywhere: no mail, no update checks.
 */

defined( 'ABSPATH' ) || exit;

add_filter( 'pre_wp_mail', '__return_false' );
add_filter( 'pre_http_request', static function ( $pre, $args, $url ) {
	$host = wp_parse_url( $url, PHP_URL_HOST );
	return '127.0.0.1' === $host || 'localhost' === $host ? $pre : new WP_Error( 'relais_test_offline', 'The test site makes no outside requests.' );
}, 10, 3 );
