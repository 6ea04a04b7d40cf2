# The official nginx:bookworm image's habits on Debian's nginx: configuration in
# /etc/nginx/conf.d, logs to the container's stdout/stderr, STOPSIGNAL SIGQUIT (nginx's
# graceful shutdown), CMD nginx -g "daemon off;".
FROM sesame-test/bookworm
RUN rm -f /etc/nginx/sites-enabled/default \
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
