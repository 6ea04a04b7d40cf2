# The official php:8.3-fpm-bookworm image's habits on Debian's php-fpm 8.2: php-fpm on
# PATH as `php-fpm` reading /usr/local/etc/php-fpm.conf and php-fpm.d/*.conf (the pool
# listens on 9000, logs go to stderr), WORKDIR /var/www/html, STOPSIGNAL SIGQUIT (php-fpm's
# graceful shutdown), CMD ["php-fpm"].
FROM sesame-test/bookworm
RUN mkdir -p /usr/local/etc/php-fpm.d /var/www/html /run/php \
 && printf '#!/bin/sh\nexec /usr/sbin/php-fpm8.2 -y /usr/local/etc/php-fpm.conf "$@"\n' > /usr/local/sbin/php-fpm \
 && chmod 755 /usr/local/sbin/php-fpm \
 && printf '[global]\nerror_log = /proc/self/fd/2\nlog_limit = 8192\ninclude=/usr/local/etc/php-fpm.d/*.conf\n' > /usr/local/etc/php-fpm.conf \
 && printf '[www]\nuser = www-data\ngroup = www-data\nlisten = 9000\npm = dynamic\npm.max_children = 5\npm.start_servers = 2\npm.min_spare_servers = 1\npm.max_spare_servers = 3\naccess.log = /proc/self/fd/2\ncatch_workers_output = yes\ndecorate_workers_output = no\n' > /usr/local/etc/php-fpm.d/www.conf \
 && chown www-data:www-data /var/www/html
WORKDIR /var/www/html
EXPOSE 9000
STOPSIGNAL SIGQUIT
CMD ["php-fpm"]
