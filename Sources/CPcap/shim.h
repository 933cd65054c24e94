#ifndef C_PCAP_SHIM_H
#define C_PCAP_SHIM_H
#include <stdint.h>
#include <sys/socket.h>
#include <pcap/pcap.h>
#endif
