// SPDX-License-Identifier: GPL-2.0
/*
 * dmaleak: a test module for `iommutrace leaks`. Binds to QEMU's edu device
 * (1234:11e8), maps nr_map buffers with dma_map_single() and unmaps the first
 * nr_unmap of them at once; the rest stay mapped, a leak until the module is
 * removed. It also maps a scatterlist of sg_pages separate pages (one
 * iommu:map event per segment) and unmaps it whole (one iommu:unmap event):
 * none of it may be left in the tracer's table. The device never does DMA.
 */
#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#define DMALEAK_MAX 256

static unsigned int nr_map = 16;
module_param(nr_map, uint, 0444);
MODULE_PARM_DESC(nr_map, "buffers mapped at probe");
static unsigned int nr_unmap = 5;
module_param(nr_unmap, uint, 0444);
MODULE_PARM_DESC(nr_unmap, "of those, unmapped at once");
static unsigned int sg_pages = 4;
module_param(sg_pages, uint, 0444);
MODULE_PARM_DESC(sg_pages, "pages of the scatterlist mapped and unmapped at probe");

struct dmaleak {
	void *buf[DMALEAK_MAX];
	dma_addr_t addr[DMALEAK_MAX];
	unsigned int nr;
	unsigned int first;	/* buffers below this are unmapped */
};

/* noinline: the frame `iommutrace leaks` must show as the mapper */
static noinline int dmaleak_map_one(struct device *dev, struct dmaleak *dl, unsigned int i)
{
	dl->buf[i] = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!dl->buf[i])
		return -ENOMEM;
	dl->addr[i] = dma_map_single(dev, dl->buf[i], PAGE_SIZE, DMA_TO_DEVICE);
	if (dma_mapping_error(dev, dl->addr[i])) {
		kfree(dl->buf[i]);
		dl->buf[i] = NULL;
		return -EIO;
	}
	return 0;
}

static noinline void dmaleak_unmap_one(struct device *dev, struct dmaleak *dl, unsigned int i)
{
	dma_unmap_single(dev, dl->addr[i], PAGE_SIZE, DMA_TO_DEVICE);
	kfree(dl->buf[i]);
	dl->buf[i] = NULL;
}

/* Every other page of a larger allocation: segments that are not contiguous */
static noinline int dmaleak_sg_roundtrip(struct device *dev)
{
	struct scatterlist *sgl, *sg;
	struct page *pages;
	unsigned int i, order;
	int nents, ret = 0;

	if (!sg_pages)
		return 0;
	order = get_order(2 * sg_pages * PAGE_SIZE);
	pages = alloc_pages(GFP_KERNEL, order);
	sgl = kcalloc(sg_pages, sizeof(*sgl), GFP_KERNEL);
	if (!pages || !sgl) {
		ret = -ENOMEM;
		goto out;
	}
	sg_init_table(sgl, sg_pages);
	for_each_sg(sgl, sg, sg_pages, i)
		sg_set_page(sg, pages + 2 * i, PAGE_SIZE, 0);
	nents = dma_map_sg(dev, sgl, sg_pages, DMA_FROM_DEVICE);
	if (!nents) {
		ret = -EIO;
		goto out;
	}
	dev_info(dev, "dmaleak: scatterlist of %u pages mapped in %d DMA segments at %pad\n",
		 sg_pages, nents, &sg_dma_address(sgl));
	dma_unmap_sg(dev, sgl, sg_pages, DMA_FROM_DEVICE);
out:
	kfree(sgl);
	if (pages)
		__free_pages(pages, order);
	return ret;
}

static int dmaleak_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct dmaleak *dl;
	unsigned int i;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(32));
	if (ret)
		return ret;
	dl = devm_kzalloc(&pdev->dev, sizeof(*dl), GFP_KERNEL);
	if (!dl)
		return -ENOMEM;
	pci_set_drvdata(pdev, dl);
	for (i = 0; i < min_t(unsigned int, nr_map, DMALEAK_MAX); i++) {
		ret = dmaleak_map_one(&pdev->dev, dl, i);
		if (ret)
			break;
		dl->nr++;
	}
	for (i = 0; i < min(nr_unmap, dl->nr); i++)
		dmaleak_unmap_one(&pdev->dev, dl, i);
	dl->first = i;
	ret = dmaleak_sg_roundtrip(&pdev->dev);
	dev_info(&pdev->dev, "dmaleak: %u buffers mapped, %u unmapped, %u held (sg: %d)\n",
		 dl->nr, dl->first, dl->nr - dl->first, ret);
	return 0;
}

static void dmaleak_remove(struct pci_dev *pdev)
{
	struct dmaleak *dl = pci_get_drvdata(pdev);
	unsigned int i;

	for (i = dl->first; i < dl->nr; i++)
		dmaleak_unmap_one(&pdev->dev, dl, i);
}

static const struct pci_device_id dmaleak_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};
MODULE_DEVICE_TABLE(pci, dmaleak_ids);

static struct pci_driver dmaleak_driver = {
	.name = "dmaleak",
	.id_table = dmaleak_ids,
	.probe = dmaleak_probe,
	.remove = dmaleak_remove,
};
module_pci_driver(dmaleak_driver);

MODULE_DESCRIPTION("iommutrace test: DMA mappings left mapped on purpose");
MODULE_LICENSE("GPL");
