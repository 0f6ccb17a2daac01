/* The bare-syscall floor for bench/vm-stage1.sh: a static /init that only
 * makes stage-1's syscalls — base mounts, finit_module for each line of
 * /etc/ref-modules (dependencies first, one after another), wait for
 * /dev/vda, tmpfs root + squashfs + tmpfs rw-store + overlay, move the API
 * file systems, MS_MOVE + chroot — with no parsing of modules.dep, no
 * logging, no error handling, no initramfs cleanup, no stage-2 and no
 * supervisor: it marks `stage2` and `supervise` at once and execs the bench
 * service's run script (SERVICE) as the "first service".
 * Build: gcc -O2 -static -DKVER='"…"' -DSERVICE='"…"' floor.c */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static char marks[1024];
static int mlen;

static void mark(const char *phase)
{
	struct timespec t;
	clock_gettime(CLOCK_BOOTTIME, &t);
	mlen += snprintf(marks + mlen, sizeof marks - mlen, "%s %ld.%06ld\n", phase,
			 (long)t.tv_sec, t.tv_nsec / 1000);
}

int main(void)
{
	mark("init");
	mount("proc", "/proc", "proc", 0, 0);
	mount("sysfs", "/sys", "sysfs", 0, 0);
	mount("devtmpfs", "/dev", "devtmpfs", 0, 0);
	mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");

	FILE *f = fopen("/etc/ref-modules", "r");
	char line[512], path[768];
	while (f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		snprintf(path, sizeof path, "/lib/modules/" KVER "/%s", line);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		syscall(SYS_finit_module, fd, "", 0);
		close(fd);
	}
	mark("modules");

	struct stat st;
	struct timespec five_ms = {0, 5000000};
	for (int i = 0; i < 4000 && stat("/dev/vda", &st) != 0; i++)
		nanosleep(&five_ms, 0);

	mkdir("/mnt-root", 0755);
	mount("tmpfs", "/mnt-root", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=50%");
	mkdir("/mnt-root/nix", 0755);
	mkdir("/mnt-root/nix/.ro-store", 0755);
	mkdir("/mnt-root/nix/.rw-store", 0755);
	mkdir("/mnt-root/nix/store", 0755);
	mount("/dev/vda", "/mnt-root/nix/.ro-store", "squashfs", MS_RDONLY, 0);
	mount("tmpfs", "/mnt-root/nix/.rw-store", "tmpfs", 0, "mode=0755");
	mkdir("/mnt-root/nix/.rw-store/store", 0755);
	mkdir("/mnt-root/nix/.rw-store/work", 0755);
	mount("overlay", "/mnt-root/nix/store", "overlay", 0,
	      "lowerdir=/mnt-root/nix/.ro-store,upperdir=/mnt-root/nix/.rw-store/store,"
	      "workdir=/mnt-root/nix/.rw-store/work");
	mark("mounts");

	const char *api[] = {"dev", "proc", "sys", "run"};
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof path, "/mnt-root/%s", api[i]);
		mkdir(path, 0755);
	}
	mark("switch_root");
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof path, "/mnt-root/%s", api[i]);
		mount(path + 9, path, 0, MS_MOVE, 0);
	}
	chdir("/mnt-root");
	mount(".", "/", 0, MS_MOVE, 0);
	chroot(".");
	chdir("/");
	mark("stage2");
	mark("supervise");
	mkdir("/run/init", 0755);
	int fd = open("/run/init/boot-times", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	write(fd, marks, mlen);
	close(fd);
	execl(SERVICE, SERVICE, (char *)0);
	return 1;
}
