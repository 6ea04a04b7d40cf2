<?php
// The application: its database password came from Vault through php-fpm's environment.
$password = getenv('DB_PASSWORD');
header('Content-Type: text/plain');
printf("connected to %s with a password of %d characters\n", getenv('DB_HOST'), strlen($password ?: ''));
