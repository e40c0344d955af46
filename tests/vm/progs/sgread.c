// SPDX-License-Identifier: GPL-2.0
/*
 * sgread DEV BYTES [BS]: O_DIRECT reads of BS bytes (default 128 KiB) from
 * DEV until BYTES are read, all into one buffer whose pages were first
 * touched in a scattered order (even pages, then odd ones). Neighbouring
 * pages are then not physically adjacent, so every read is a request of many
 * segments, which nvme maps as a scatterlist (dma_map_sg). A fresh malloc
 * buffer is often physically contiguous: one segment, mapped with
 * dma_map_page, and the scatterlist path goes unexercised.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE), total, bs, done = 0, i;
	char *buf;
	int fd;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: sgread DEV BYTES [BS]\n");
		return 2;
	}
	total = strtol(argv[2], NULL, 0);
	bs = argc == 4 ? strtol(argv[3], NULL, 0) : 128 * 1024;
	if (total <= 0 || bs < 2 * page || bs % page) {
		fprintf(stderr, "sgread: BYTES > 0, BS a multiple of the page size, >= 2 pages\n");
		return 2;
	}
	buf = mmap(NULL, bs, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("sgread: mmap");
		return 1;
	}
	/* small pages only: a huge page would be one segment again */
	madvise(buf, bs, MADV_NOHUGEPAGE);
	for (i = 0; i < bs / page; i += 2)
		buf[i * page] = 1;
	for (i = 1; i < bs / page; i += 2)
		buf[i * page] = 1;
	fd = open(argv[1], O_RDONLY | O_DIRECT);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	while (done < total) {
		ssize_t n = pread(fd, buf, bs, done);

		if (n < 0) {
			perror("sgread: pread");
			return 1;
		}
		if (n == 0)
			break;
		done += n;
	}
	close(fd);
	printf("%ld bytes in %ld-byte reads\n", done, bs);
	return 0;
}
