# A musl image without a registry, laid out as Alpine is: musl's dynamic loader (which is
# its libc) at /lib/ld-musl-x86_64.so.1, busybox (static, Debian's busybox-static) as
# /bin/sh and the other commands, /etc/passwd and /etc/group with root, /tmp 1777, and
# adduser/addgroup for the options Alpine images use (musl-adduser, musl-addgroup). No
# glibc anywhere.
FROM sesame-test/bookworm AS debian
FROM scratch
COPY --from=debian /usr/lib/x86_64-linux-musl/libc.so /lib/ld-musl-x86_64.so.1
COPY --from=debian /bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY musl-adduser /usr/sbin/adduser
COPY musl-addgroup /usr/sbin/addgroup
RUN mkdir -p /etc /tmp /home /root /var /usr/bin /sbin && chmod 1777 /tmp \
 && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd \
 && echo 'root:x:0:root' > /etc/group \
 && echo 'nobody:x:65534:65534:nobody:/:/sbin/nologin' >> /etc/passwd \
 && echo 'nogroup:x:65533:' >> /etc/group
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["/bin/sh"]
