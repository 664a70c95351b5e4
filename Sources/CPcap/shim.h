// CPcap: libpcap, used for every pcap byte nat64d writes or reads.
#include <pcap/pcap.h>
