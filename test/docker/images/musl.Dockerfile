# A musl image without a registry, laid out as Alpine is: musl's dynamic loader (which is
# its libc) at /lib/ld-musl-x86_64.so.1, busybox (static, Debian's busybox-static) as
# /bin/sh and the other commands, no glibc anywhere.
FROM sesame-test/bookworm AS debian
FROM scratch
COPY --from=debian /usr/lib/x86_64-linux-musl/libc.so /lib/ld-musl-x86_64.so.1
COPY --from=debian /bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh"]
