// Most of CTunLinux lives in include/CTunLinux.h as static inline functions. This file holds the TUN steering
// program (see CTunLinux_attachSteering there): eBPF byte code written out by hand, because Debian's build of
// this project has no BPF compiler and the program is 30 instructions.
#include "CTunLinux.h"

#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define MOV64_REG(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV64_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define XOR64_REG(d, s) INSN(BPF_ALU64 | BPF_XOR | BPF_X, d, s, 0, 0)
#define ALU64_IMM(op, d, i) INSN(BPF_ALU64 | (op) | BPF_K, d, 0, 0, i)
#define ALU32_IMM(op, d, i) INSN(BPF_ALU | (op) | BPF_K, d, 0, 0, i)
// Legacy packet loads: r0 = the big-endian value at skb->data + imm (+ src for IND); out of bounds ends the
// program with 0. They need the context in r6.
#define LD_ABS(size, off) INSN(BPF_LD | BPF_ABS | (size), 0, 0, 0, off)
#define LD_IND(size, src, off) INSN(BPF_LD | BPF_IND | (size), 0, src, 0, off)
// Jumps name their target's index; the offset (relative to the next instruction) is worked out from `at`.
#define JEQ_IMM(at, d, i, to) INSN(BPF_JMP | BPF_JEQ | BPF_K, d, 0, (to) - (at) - 1, i)
#define JNE_IMM(at, d, i, to) INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, (to) - (at) - 1, i)
#define JA(at, to) INSN(BPF_JMP | BPF_JA, 0, 0, (to) - (at) - 1, 0)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

enum { R0, R1, R2, R3, R4, R5, R6, R7, R8 };
// Instruction indices of the jump targets below.
enum { IPV4 = 7, PORTS4 = 18, IPV6 = 25, PORTS6 = 45, MIX = 47, COUNT = 51 };

// The queue of a packet the kernel hands to the TUN (skb->data is the IP header): a hash of its addresses,
// and of its TCP or UDP ports unless it is a fragment, as the kernel's own flow hash is. So the fragments of
// one datagram meet on one queue, and flows between the same two hosts still spread over the queues.
static const struct bpf_insn steering[COUNT] = {
    /* 0 */ MOV64_REG(R6, R1),
    /* 1 */ LD_ABS(BPF_B, 0),
    /* 2 */ ALU64_IMM(BPF_RSH, R0, 4),
    /* 3 */ JEQ_IMM(3, R0, 4, IPV4),
    /* 4 */ JEQ_IMM(4, R0, 6, IPV6),
    /* 5 */ MOV64_IMM(R0, 0),
    /* 6 */ EXIT(),
    // IPV4: r7 = source ^ destination
    /* 7 */ LD_ABS(BPF_W, 12),
    /* 8 */ MOV64_REG(R7, R0),
    /* 9 */ LD_ABS(BPF_W, 16),
    /* 10 */ XOR64_REG(R7, R0),
    // A fragment (MF set or an offset): addresses only.
    /* 11 */ LD_ABS(BPF_H, 6),
    /* 12 */ ALU64_IMM(BPF_AND, R0, 0x3fff),
    /* 13 */ JNE_IMM(13, R0, 0, MIX),
    /* 14 */ LD_ABS(BPF_B, 9),
    /* 15 */ JEQ_IMM(15, R0, 6, PORTS4),
    /* 16 */ JEQ_IMM(16, R0, 17, PORTS4),
    /* 17 */ JA(17, MIX),
    // PORTS4: the ports word right after the header (IHL × 4)
    /* 18 */ LD_ABS(BPF_B, 0),
    /* 19 */ ALU64_IMM(BPF_AND, R0, 0xf),
    /* 20 */ ALU64_IMM(BPF_LSH, R0, 2),
    /* 21 */ MOV64_REG(R8, R0),
    /* 22 */ LD_IND(BPF_W, R8, 0),
    /* 23 */ XOR64_REG(R7, R0),
    /* 24 */ JA(24, MIX),
    // IPV6: the eight words of source and destination
    /* 25 */ LD_ABS(BPF_W, 8),
    /* 26 */ MOV64_REG(R7, R0),
    /* 27 */ LD_ABS(BPF_W, 12),
    /* 28 */ XOR64_REG(R7, R0),
    /* 29 */ LD_ABS(BPF_W, 16),
    /* 30 */ XOR64_REG(R7, R0),
    /* 31 */ LD_ABS(BPF_W, 20),
    /* 32 */ XOR64_REG(R7, R0),
    /* 33 */ LD_ABS(BPF_W, 24),
    /* 34 */ XOR64_REG(R7, R0),
    /* 35 */ LD_ABS(BPF_W, 28),
    /* 36 */ XOR64_REG(R7, R0),
    /* 37 */ LD_ABS(BPF_W, 32),
    /* 38 */ XOR64_REG(R7, R0),
    /* 39 */ LD_ABS(BPF_W, 36),
    /* 40 */ XOR64_REG(R7, R0),
    // Ports only when TCP or UDP follows the fixed header directly (a fragment header, 44, does not count).
    /* 41 */ LD_ABS(BPF_B, 6),
    /* 42 */ JEQ_IMM(42, R0, 6, PORTS6),
    /* 43 */ JEQ_IMM(43, R0, 17, PORTS6),
    /* 44 */ JA(44, MIX),
    /* 45 */ LD_ABS(BPF_W, 40),
    /* 46 */ XOR64_REG(R7, R0),
    // MIX: a multiplicative hash; the top 16 bits are the result (the kernel takes it modulo the queues).
    /* 47 */ MOV64_REG(R0, R7),
    /* 48 */ ALU32_IMM(BPF_MUL, R0, (int32_t)0x9E3779B1u),
    /* 49 */ ALU32_IMM(BPF_RSH, R0, 16),
    /* 50 */ EXIT(),
};

static int bpf_call(int command, union bpf_attr *attr) {
    return (int)syscall(__NR_bpf, command, attr, sizeof *attr);
}

int CTunLinux_loadSteering(void) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    attr.insns = (uint64_t)(uintptr_t)steering;
    attr.insn_cnt = COUNT;
    attr.license = (uint64_t)(uintptr_t) "GPL";
    int fd = bpf_call(BPF_PROG_LOAD, &attr);
    return fd < 0 ? -errno : fd;
}

int CTunLinux_attachSteering(int tun) {
    int program = CTunLinux_loadSteering();
    if (program < 0) return program;
    int r = ioctl(tun, TUNSETSTEERINGEBPF, &program);
    int e = errno;
    close(program);  // the device holds its own reference
    return r < 0 ? -e : 0;
}

int CTunLinux_steeringValue(int program, const uint8_t *packet, uint32_t length, uint32_t *value) {
    // BPF_PROG_TEST_RUN takes an Ethernet frame and hands the program the skb after its header, as a TUN
    // device's skb starts at the IP header.
    uint8_t frame[14 + 1600];
    if (length > sizeof frame - 14) return -EMSGSIZE;
    memset(frame, 0, 14);
    frame[12] = (packet[0] >> 4) == 6 ? 0x86 : 0x08;
    frame[13] = (packet[0] >> 4) == 6 ? 0xdd : 0x00;
    memcpy(frame + 14, packet, length);
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.test.prog_fd = (uint32_t)program;
    attr.test.data_in = (uint64_t)(uintptr_t)frame;
    attr.test.data_size_in = 14 + length;
    attr.test.repeat = 1;
    if (bpf_call(BPF_PROG_TEST_RUN, &attr) < 0) return -errno;
    *value = attr.test.retval;
    return 0;
}
