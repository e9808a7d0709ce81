/* bpfkit_netdev.h — what the net device tools (netqtop, netsize, nettxlat, ...) share: the -n/-d
 * interface filter on an skb's device name, as BCC's netqtop compares it. */
#ifndef __BPFKIT_NETDEV_H
#define __BPFKIT_NETDEV_H

#include <bpfkit.h>

#define IFNAMSIZ 16

const volatile char targ_ifname[IFNAMSIZ] = {};   /* "": every device */

/* Whether a device's name is the one asked for (every device when none is). */
static __always_inline bool netdev_wanted(struct net_device *dev)
{
	if (!targ_ifname[0])
		return true;
	char name[IFNAMSIZ] = {};
	bpf_probe_read_kernel_str(name, sizeof(name), &dev->name); /* CO-RE relocated (vmlinux.h types) */
	for (int i = 0; i < IFNAMSIZ; i++) {
		if (name[i] != targ_ifname[i])
			return false;
		if (!name[i])
			break;
	}
	return true;
}

static __always_inline bool skb_dev_wanted(struct sk_buff *skb)
{
	return netdev_wanted(BPF_CORE_READ(skb, dev));
}

#endif
