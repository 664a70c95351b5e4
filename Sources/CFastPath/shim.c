// The bpf(2) commands behind include/fastpath_program.h.
#include "fastpath_program.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// The tcx attach point (Linux 6.6); Debian 12's uapi header (6.1) predates it.
#ifndef BPF_TCX_INGRESS
#define FASTPATH_TCX_INGRESS 46
#define FASTPATH_TCX_EGRESS 47
#else
#define FASTPATH_TCX_INGRESS BPF_TCX_INGRESS
#define FASTPATH_TCX_EGRESS BPF_TCX_EGRESS
#endif

static int sys_bpf(int cmd, union bpf_attr *attr) {
    long r = syscall(SYS_bpf, cmd, attr, sizeof(*attr));
    return r < 0 ? -errno : (int)r;
}

int fastpath_map_create(unsigned int type, unsigned int key_size, unsigned int value_size, unsigned int max_entries,
                        const char *name) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = type;
    a.key_size = key_size;
    a.value_size = value_size;
    a.max_entries = max_entries;
    if (type == FASTPATH_HASH) a.map_flags = BPF_F_NO_PREALLOC;  // memory grows with the flows, not the bound
    strncpy(a.map_name, name, sizeof a.map_name - 1);
    return sys_bpf(BPF_MAP_CREATE, &a);
}

int fastpath_program_load(int egress, const int *maps, char *log, unsigned int log_size) {
    unsigned int count = egress ? fastpath_egress_instruction_count : fastpath_instruction_count;
    const unsigned char *code = egress ? fastpath_egress_instructions : fastpath_instructions;
    unsigned int relocation_count = egress ? fastpath_egress_relocation_count : fastpath_relocation_count;
    const struct fastpath_relocation *relocations = egress ? fastpath_egress_relocations : fastpath_relocations;
    struct bpf_insn *insns = malloc((size_t)count * sizeof *insns);
    if (!insns) return -ENOMEM;
    memcpy(insns, code, (size_t)count * sizeof *insns);
    for (unsigned int i = 0; i < relocation_count; i++) {
        struct bpf_insn *load = &insns[relocations[i].instruction];
        load->src_reg = BPF_PSEUDO_MAP_FD;
        load->imm = maps[relocations[i].map];
    }
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_SCHED_CLS;
    a.insns = (unsigned long)insns;
    a.insn_cnt = count;
    a.license = (unsigned long)"GPL";
    strncpy(a.prog_name, egress ? "nat64d_fp_egress" : "nat64d_fastpath", sizeof a.prog_name - 1);
    int fd = sys_bpf(BPF_PROG_LOAD, &a);
    if (fd < 0 && log && log_size > 0) {  // again, with the verifier's account of why
        a.log_buf = (unsigned long)log;
        a.log_size = log_size;
        a.log_level = 1;
        log[0] = 0;
        int again = sys_bpf(BPF_PROG_LOAD, &a);
        if (again >= 0) { close(again); }
    }
    free(insns);
    return fd;
}

static int attach(int program, int ifindex, unsigned int type) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.link_create.prog_fd = program;
    a.link_create.target_ifindex = ifindex;
    a.link_create.attach_type = type;
    return sys_bpf(BPF_LINK_CREATE, &a);
}

int fastpath_attach_ingress(int program, int ifindex) { return attach(program, ifindex, FASTPATH_TCX_INGRESS); }

int fastpath_attach_egress(int program, int ifindex) { return attach(program, ifindex, FASTPATH_TCX_EGRESS); }

int fastpath_map_update(int map, const void *key, const void *value, unsigned long long flags) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = map;
    a.key = (unsigned long)key;
    a.value = (unsigned long)value;
    a.flags = flags;
    return sys_bpf(BPF_MAP_UPDATE_ELEM, &a);
}

int fastpath_map_delete(int map, const void *key) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = map;
    a.key = (unsigned long)key;
    return sys_bpf(BPF_MAP_DELETE_ELEM, &a);
}

int fastpath_map_lookup(int map, const void *key, void *value) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = map;
    a.key = (unsigned long)key;
    a.value = (unsigned long)value;
    return sys_bpf(BPF_MAP_LOOKUP_ELEM, &a);
}

int fastpath_map_next_key(int map, const void *key, void *next) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = map;
    a.key = (unsigned long)key;
    a.next_key = (unsigned long)next;
    return sys_bpf(BPF_MAP_GET_NEXT_KEY, &a);
}

int fastpath_map_lookup_batch(int map, const void *in, void *out, void *keys, void *values, unsigned int *count) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.batch.map_fd = map;
    a.batch.in_batch = (unsigned long)in;
    a.batch.out_batch = (unsigned long)out;
    a.batch.keys = (unsigned long)keys;
    a.batch.values = (unsigned long)values;
    a.batch.count = *count;
    int r = sys_bpf(BPF_MAP_LOOKUP_BATCH, &a);
    *count = a.batch.count;
    return r;
}

int fastpath_possible_cpus(void) {
    // /sys/devices/system/cpu/possible: "0-1" or "0,2-3"; the highest number + 1 is what per-CPU maps use.
    FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
    if (!f) return -errno;
    char text[256];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    int highest = -1, value = 0, digits = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = text[i];
        if (c >= '0' && c <= '9') { value = value * 10 + (c - '0'); digits = 1; continue; }
        if (digits && value > highest) highest = value;
        value = 0;
        digits = 0;
    }
    return highest + 1;
}
