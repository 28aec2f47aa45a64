<!DOCTYPE html>
<html><head><meta charset="utf-8"><title><?php echo esc_html( wp_get_document_title() ); ?></title></head>
<body>
<?php
while ( have_posts() ) {
	the_post();
	the_title( '<h1>', '</h1>' );
	the_content();
}
?>
</body></html>
