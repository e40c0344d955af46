// SPDX-License-Identifier: GPL-2.0
/*
 * A QEMU 7.2 TCG bug the lab's guest runs into: after `test`, a `setcc` whose
 * store faults (first touch of a page) leaves the flags wrong, so the next
 * conditional jump goes the wrong way. gcc -O2 emits exactly this for
 * `p->flag = n > 0` on freshly calloc'd memory; that made `iommutrace info`
 * misread its --acpi list in the guest about 1 run in 3 (struct info in
 * src/info.c). On real hardware and under KVM this prints 0 and 0.
 *
 * tests/vm/checks/harness.sh runs it in every guest configuration.
 */
#include <stdio.h>
#include <sys/mman.h>

int main(void)
{
	int bad_branch = 0, bad_store = 0, i, n = 1000;

	for (i = 0; i < n; i++) {
		char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		int v = i & 1, taken;

		if (p == MAP_FAILED) {
			perror("mmap");
			return 2;
		}
		__asm__ volatile("test %[v], %[v]\n\t"
				 "setg (%[p])\n\t"
				 "jle 1f\n\t"
				 "mov $0, %[t]\n\t"
				 "jmp 2f\n"
				 "1: mov $1, %[t]\n"
				 "2:\n"
				 : [t] "=&r"(taken)
				 : [v] "r"(v), [p] "r"(p)
				 : "cc", "memory");
		bad_branch += taken != (v <= 0);
		bad_store += p[0] != (v > 0);
		munmap(p, 4096);
	}
	printf("%d wrong branches, %d wrong stores in %d setcc stores that fault\n",
	       bad_branch, bad_store, n);
	return bad_branch || bad_store;
}
