// The entry point of the one-file /init: runs before anything else, without a C library.
//
// /init is the pinned Node executable, made its own interpreter by build.mjs: the kernel's
// program-header table has no PT_INTERP (the kernel then starts the file as a static
// program, at this stub), and the file carries the dynamic loader (ld.so), the libraries
// Node needs (glibc, libstdc++, libgcc_s) and init's addon. So /init needs nothing from the
// image: it runs FROM scratch, on musl (Alpine), busybox, distroless, read-only roots.
//
// What the stub does, in order, and why:
//  1. Hides the variables that would change how Node itself starts (NODE_*, UV_*,
//     OPENSSL_CONF: they are the application's, not init's; see hidden_name). The strings
//     stay on the stack, so /proc/self/environ still has them and init hands them on to
//     its children unchanged (src/native/onefile.ts).
//  2. Copies ld.so, each library and the addon into its own memfd (memory file): ld.so
//     needs a path for each library, and /proc/self/fd/N is one that works on a read-only
//     root with every tmpfs mounted noexec. The bytes come from /proc/self/exe by sendfile
//     (in the kernel, ~1 ms); when /init is execute-only (mode 0711, a non-root user cannot
//     read it), from the stub's own mapping instead.
//  3. Writes "/proc/self/fd/N" over each library's placeholder name in Node's dynamic
//     string table (DT_NEEDED), so that ld.so opens the memfds; libstdc++'s own
//     libc.so.6 and the addon's resolve to the same copies (ld.so matches DT_SONAME).
//  4. Maps ld.so as the kernel would map an interpreter, and shows it the program-header
//     table that still has PT_INTERP (build.mjs appended it), the way the kernel shows an
//     interpreter the program: AT_PHDR, AT_PHNUM, AT_BASE, AT_ENTRY (Node's own entry).
//  5. Restores the stack pointer and jumps to ld.so, which loads Node as usual.
//
// Every system call's failure ends the start with one line on stderr and an exit code that
// init documents (src/exit-codes.ts): 72 when /proc is not mounted, 71 when the system
// refuses something else (e.g. memfd_create under a seccomp profile), 70 for a broken file.
// The file descriptors it leaves open (the library memfds, close-on-exec) are closed by
// init once Node has started; nothing of the stub reaches a child.
//
// Freestanding: no libc, no relocations (build.mjs links it at two addresses and checks
// that the bytes are the same), no writable data; only stack variables.
#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#define SYS_write 1
#define SYS_close 3
#define SYS_mmap 9
#define SYS_mprotect 10
#define SYS_sendfile 40
#define SYS_fcntl 72
#define SYS_exit_group 231
#define SYS_openat 257
#define SYS_memfd_create 319

#define AT_FDCWD -100
#define O_RDONLY 0
#define O_RDWR 2
#define O_CLOEXEC 02000000
#define F_GETFD 1
#define PROT_NONE 0
#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4
#define MAP_PRIVATE 0x02
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MFD_CLOEXEC 0x0001U
#define MFD_NOEXEC_SEAL 0x0008U
#define PAGE 4096UL

#define EPERM 1
#define ENOENT 2
#define EBADF 9
#define ENOMEM 12
#define EACCES 13
#define EINVAL 22
#define ENFILE 23
#define EMFILE 24
#define ENOSYS 38

// Exit codes: the same numbers as src/exit-codes.ts.
#define EXIT_SOFTWARE 70
#define EXIT_OS_ERROR 71
#define EXIT_NO_PROC 72

// The configuration block build.mjs writes right after the stub's code (sesame_config is
// where the linker script ends the code). Keep in sync with writeStubConfig in build.mjs.
#define STUB_MAGIC 0x31425453454d4153ULL /* "SAMESTB1" */
#define MAX_FILES 8
#define MAX_PATCHES 16
struct embedded {
  uint64_t offset; // in /init
  uint64_t size;
  char name[24];   // the memfd's name: /proc/self/fd/N reads "/memfd:NAME (deleted)"
};
struct patch {
  uint64_t vaddr;  // a placeholder string in Node's dynamic string table
  uint64_t length; // its length: room for "/proc/self/fd/N" and a NUL
  uint64_t prot;   // the protection of the page it is on, restored after writing
  uint64_t file;   // which embedded file's descriptor it names
};
struct config {
  uint64_t magic;
  uint64_t entry;        // Node's own entry point
  uint64_t phdr, phnum;  // the program-header table ld.so is shown (with PT_INTERP)
  uint64_t image_vaddr;  // where the segment holding the stub and the files is mapped...
  uint64_t image_offset; // ...and where it starts in /init
  uint64_t nfiles;       // files[0] is ld.so
  uint64_t npatches;
  struct embedded files[MAX_FILES];
  struct patch patches[MAX_PATCHES];
};
extern const struct config sesame_config __attribute__((visibility("hidden")));

// ---- System calls and output.

static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return ret;
}
#define sys3(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)

static size_t length(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

static void say(const char *s) {
  size_t n = length(s);
  while (n) {
    long w = sys3(SYS_write, 2, s, n);
    if (w <= 0) return; // stderr is gone: nothing else to tell
    s += w;
    n -= (size_t)w;
  }
}

/** Decimal digits of v into buf (at least 21 bytes), NUL-terminated; returns buf. */
static char *decimal(char *buf, unsigned long v) {
  char tmp[21];
  int n = 0;
  do tmp[n++] = (char)('0' + v % 10); while (v /= 10);
  for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  buf[n] = 0;
  return buf;
}

static const char *errno_name(long err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENOSYS: return "ENOSYS";
    default: return 0;
  }
}

/** "sesame: error: WHAT[ NAME]: ERRNO[ HINT]", then exit. */
__attribute__((noreturn)) static void fail(const char *what, const char *name, long err, const char *hint, int code) {
  char num[24];
  const char *e = errno_name(err);
  say("sesame: error: ");
  say(what);
  if (name) { say(" "); say(name); }
  say(": ");
  if (e) say(e); else { say("errno "); say(decimal(num, (unsigned long)err)); }
  if (hint) { say(" ("); say(hint); say(")"); }
  say("\n");
  sys3(SYS_exit_group, code, 0, 0);
  __builtin_unreachable();
}

// ---- Step 1: the variables Node reads at start-up that are not init's.

/**
 * NODE_* (NODE_EXTRA_CA_CERTS would change whom init trusts, NODE_REPL_EXTERNAL_MODULE
 * stops it from starting, NODE_OPTIONS, NODE_ICU_DATA, NODE_DEBUG_NATIVE...), UV_* (libuv:
 * UV_THREADPOOL_SIZE, UV_USE_IO_URING) and OPENSSL_* (OPENSSL_CONF: an OpenSSL
 * configuration that can turn off checks in init's TLS connections).
 */
static int hidden_name(const char *entry) {
  static const char prefixes[] = "NODE_\0UV_\0OPENSSL_\0";
  for (const char *p = prefixes; *p; p += length(p) + 1) {
    size_t i = 0;
    while (p[i] && entry[i] == p[i]) i++;
    if (!p[i]) return 1;
  }
  return 0;
}

/**
 * Drops the hidden variables from envp. The auxiliary vector must follow envp's NULL
 * directly (ld.so finds it there), so it moves down by the number of entries dropped.
 * Returns the auxiliary vector's new place.
 */
static Elf64_auxv_t *hide_variables(char **envp) {
  char **out = envp, **in = envp;
  for (; *in; in++)
    if (!hidden_name(*in)) *out++ = *in;
  *out++ = 0;
  in++; // the auxiliary vector starts after the NULL
  Elf64_auxv_t *from = (Elf64_auxv_t *)in, *to = (Elf64_auxv_t *)out;
  // Moving down by whole pointers, not whole entries, overlaps: test the copy's type.
  if (from != to) {
    size_t i = 0;
    do to[i] = from[i]; while (to[i++].a_type != AT_NULL);
  }
  return to;
}

// ---- Step 2: the memfds.

static int memfd(const char *name) {
  // Sealed non-executable: nothing ever execve()s these files, and vm.memfd_noexec=2
  // accepts only such memfds. mmap(PROT_EXEC) of them still works. Kernels before 6.3 do
  // not know the flag (EINVAL): then a plain one.
  long fd = sys3(SYS_memfd_create, name, MFD_CLOEXEC | MFD_NOEXEC_SEAL, 0);
  if (fd == -EINVAL) fd = sys3(SYS_memfd_create, name, MFD_CLOEXEC, 0);
  if (fd < 0) fail("memfd_create", name, -fd, "init loads its libraries through memory files; a seccomp profile may refuse memfd_create", EXIT_OS_ERROR);
  return (int)fd;
}

static void fill(int fd, int exe, const struct embedded *f, const char *mapped) {
  if (exe >= 0) {
    long offset = (long)f->offset;
    for (uint64_t left = f->size; left;) {
      long n = sys6(SYS_sendfile, fd, exe, (long)&offset, (long)left, 0, 0);
      if (n <= 0) fail("sendfile from /proc/self/exe to the memfd of", f->name, n ? -n : EINVAL, 0, EXIT_OS_ERROR);
      left -= (uint64_t)n;
    }
    return;
  }
  for (uint64_t done = 0; done < f->size;) {
    long n = sys3(SYS_write, fd, mapped + done, f->size - done);
    if (n <= 0) fail("write to the memfd of", f->name, n ? -n : EINVAL, 0, EXIT_OS_ERROR);
    done += (uint64_t)n;
  }
}

// ---- Step 3: the placeholders.

static void write_placeholder(const struct patch *p, int fd) {
  char path[40];
  const char *prefix = "/proc/self/fd/"; // 14 characters
  for (int i = 0; i < 14; i++) path[i] = prefix[i];
  decimal(path + 14, (unsigned long)fd);
  size_t n = length(path);
  if (n >= p->length) fail("placeholder too short for", path, EINVAL, "rebuild /init", EXIT_SOFTWARE);
  uintptr_t page = p->vaddr & ~(PAGE - 1), end = (p->vaddr + p->length + PAGE - 1) & ~(PAGE - 1);
  long r = sys3(SYS_mprotect, page, end - page, PROT_READ | PROT_WRITE);
  if (r < 0) fail("mprotect (making the library names writable)", 0, -r, 0, EXIT_OS_ERROR);
  char *dst = (char *)p->vaddr;
  for (size_t i = 0; i < p->length; i++) dst[i] = i < n ? path[i] : 0;
  r = sys3(SYS_mprotect, page, end - page, p->prot);
  if (r < 0) fail("mprotect (restoring the library names)", 0, -r, 0, EXIT_OS_ERROR);
}

// ---- Step 4: ld.so.

static int elf_prot(uint32_t flags) {
  return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) | (flags & PF_X ? PROT_EXEC : 0);
}

/** Maps ld.so's segments from its memfd, as the kernel maps an interpreter; returns its base. */
static uintptr_t map_loader(int fd, const Elf64_Ehdr *eh) {
  const Elf64_Phdr *ph = (const Elf64_Phdr *)((const char *)eh + eh->e_phoff);
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (int i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type != PT_LOAD) continue;
    if ((ph[i].p_vaddr & ~(PAGE - 1)) < lo) lo = ph[i].p_vaddr & ~(PAGE - 1);
    if (ph[i].p_vaddr + ph[i].p_memsz > hi) hi = ph[i].p_vaddr + ph[i].p_memsz;
  }
  hi = (hi + PAGE - 1) & ~(PAGE - 1);
  // Reserve the whole span first, so the segments land at the right distances.
  long area = sys6(SYS_mmap, 0, (long)(hi - lo), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area < 0 && area > -4096) fail("mmap (reserving room for ld.so)", 0, -area, 0, EXIT_OS_ERROR);
  uintptr_t base = (uintptr_t)area - lo;
  for (int i = 0; i < eh->e_phnum; i++) {
    const Elf64_Phdr *p = &ph[i];
    if (p->p_type != PT_LOAD) continue;
    int prot = elf_prot(p->p_flags);
    uintptr_t start = base + (p->p_vaddr & ~(PAGE - 1));
    uintptr_t file_end = base + p->p_vaddr + p->p_filesz, mem_end = base + p->p_vaddr + p->p_memsz;
    uintptr_t file_page_end = (file_end + PAGE - 1) & ~(PAGE - 1), mem_page_end = (mem_end + PAGE - 1) & ~(PAGE - 1);
    if (file_page_end > start) {
      long m = sys6(SYS_mmap, (long)start, (long)(file_page_end - start), prot, MAP_PRIVATE | MAP_FIXED, fd, (long)(p->p_offset & ~(PAGE - 1)));
      if (m < 0 && m > -4096) fail("mmap (a segment of ld.so)", 0, -m, 0, EXIT_OS_ERROR);
    }
    if (p->p_memsz > p->p_filesz) {
      // bss: the rest of the last file page is zeroed (all of it, as the kernel does: ld.so's
      // first allocations come from the end of that page and expect zeros), whole pages past
      // it are anonymous.
      for (char *z = (char *)file_end; (uintptr_t)z < file_page_end; z++) *z = 0;
      if (mem_page_end > file_page_end) {
        long m = sys6(SYS_mmap, (long)file_page_end, (long)(mem_page_end - file_page_end), prot, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
        if (m < 0 && m > -4096) fail("mmap (the bss of ld.so)", 0, -m, 0, EXIT_OS_ERROR);
      }
    }
  }
  return base;
}

/** Docker and every runtime open 0, 1 and 2; if one is closed, a memfd must not take it. */
static void keep_standard_descriptors(void) {
  for (int fd = 0; fd < 3; fd++) {
    if (sys3(SYS_fcntl, fd, F_GETFD, 0) != -EBADF) continue;
    // Node opens /dev/null there too; without /dev/null, the memfd takes the number and
    // Node's own check later sees an open descriptor. Nothing better exists without it.
    sys6(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDWR, 0, 0, 0);
  }
}

/** Called by _start with the initial stack; returns where to jump (ld.so's entry). */
__attribute__((visibility("hidden"), used)) uintptr_t stub_main(uintptr_t *sp) {
  const struct config *c = &sesame_config;
  if (c->magic != STUB_MAGIC || c->nfiles < 1 || c->nfiles > MAX_FILES || c->npatches > MAX_PATCHES)
    fail("/init", "is damaged (no stub configuration)", EINVAL, "rebuild it", EXIT_SOFTWARE);
  long argc = (long)sp[0];
  char **envp = (char **)(sp + 1 + argc + 1);
  Elf64_auxv_t *auxv = hide_variables(envp);

  keep_standard_descriptors();
  long exe = sys6(SYS_openat, AT_FDCWD, (long)"/proc/self/exe", O_RDONLY | O_CLOEXEC, 0, 0, 0);
  if (exe == -ENOENT) fail("/proc is not mounted", 0, ENOENT, "/init needs /proc to start: mount proc on /proc", EXIT_NO_PROC);
  if (exe == -EACCES) exe = -1; // execute-only /init: copy from the mapping below
  else if (exe < 0) fail("open", "/proc/self/exe", -exe, 0, EXIT_OS_ERROR);

  const char *image = (const char *)(c->image_vaddr - c->image_offset); // file offset -> address
  int fds[MAX_FILES];
  for (uint64_t i = 0; i < c->nfiles; i++) {
    fds[i] = memfd(c->files[i].name);
    fill(fds[i], (int)exe, &c->files[i], image + c->files[i].offset);
  }
  if (exe >= 0) sys3(SYS_close, exe, 0, 0);

  const Elf64_Ehdr *ld = (const Elf64_Ehdr *)(image + c->files[0].offset);
  uintptr_t base = map_loader(fds[0], ld);
  sys3(SYS_close, fds[0], 0, 0); // mapped: ld.so needs no path for itself

  for (uint64_t i = 0; i < c->npatches; i++) {
    if (c->patches[i].file < 1 || c->patches[i].file >= c->nfiles) fail("/init", "is damaged (bad placeholder)", EINVAL, "rebuild it", EXIT_SOFTWARE);
    write_placeholder(&c->patches[i], fds[c->patches[i].file]);
  }

  for (Elf64_auxv_t *a = auxv; a->a_type != AT_NULL; a++) {
    switch (a->a_type) {
      case AT_PHDR: a->a_un.a_val = c->phdr; break;
      case AT_PHNUM: a->a_un.a_val = c->phnum; break;
      case AT_BASE: a->a_un.a_val = base; break;
      case AT_ENTRY: a->a_un.a_val = c->entry; break;
    }
  }
  return base + ld->e_entry;
}

// The kernel starts here with the initial stack at %rsp (argc, argv, envp, auxv). ld.so
// must find that same stack, so %rsp is kept in %rbx (callee-saved) around the call.
__asm__(
    ".section .text.start,\"ax\",@progbits\n"
    ".globl _start\n"
    "_start:\n"
    "  mov %rsp, %rbx\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call stub_main\n"
    "  mov %rbx, %rsp\n"
    "  xor %edx, %edx\n" // no exit handler from us (the kernel passes 0 here too)
    "  jmp *%rax\n"
    ".previous\n");
