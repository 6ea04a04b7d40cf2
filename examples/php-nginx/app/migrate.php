<?php
// Stands for a schema migration: it needs the database password, and must succeed before
// php-fpm starts serving.
$password = getenv('DB_PASSWORD');
if (!$password) {
    fwrite(STDERR, "migrate: DB_PASSWORD is not set\n");
    exit(1);
}
printf("migrate: schema of %s is up to date\n", getenv('DB_HOST'));
