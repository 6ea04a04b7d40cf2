# The official nginx:bookworm image's habits on Debian's nginx: configuration in
# /etc/nginx/conf.d, logs to the container's stdout/stderr with notices (start, graceful
# shutdown), STOPSIGNAL SIGQUIT (nginx's graceful shutdown), CMD nginx -g "daemon off;".
FROM sesame-test/bookworm
RUN rm -f /etc/nginx/sites-enabled/default \
 && sed -i 's|^error_log /var/log/nginx/error.log;|error_log /var/log/nginx/error.log notice;|' /etc/nginx/nginx.conf \
 && grep -q '^error_log .* notice;' /etc/nginx/nginx.conf \
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
