// tcx-drop: drops a share of the packets leaving an interface, for tests that need loss where the kernel has no
// netem, gact or matchall (this machine's has none). A 7-instruction tc program at the interface's tcx egress
// drops a packet when bpf_get_prandom_u32() % 1000 is below PER_MILLE; it stays attached until the process is
// killed (closing its link detaches it).
//
//   cc -O2 -o tcx-drop scripts/tools/tcx-drop.c
//   ip netns exec NS ./tcx-drop IFNAME PER_MILLE &    # then kill it by PID
#include <linux/bpf.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef BPF_TCX_EGRESS
#define BPF_TCX_EGRESS 47  // Linux 6.6; older uapi headers lack it
#endif

static int sys_bpf(int cmd, union bpf_attr *attr) { return (int)syscall(SYS_bpf, cmd, attr, sizeof *attr); }

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: tcx-drop IFNAME PER_MILLE\n");
        return 2;
    }
    unsigned int ifindex = if_nametoindex(argv[1]);
    int per_mille = atoi(argv[2]);
    if (ifindex == 0 || per_mille < 0 || per_mille > 1000) {
        fprintf(stderr, "tcx-drop: no interface %s, or %s is not 0 to 1000\n", argv[1], argv[2]);
        return 2;
    }
    struct bpf_insn program[] = {
        {.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_prandom_u32},
        {.code = BPF_ALU | BPF_MOD | BPF_K, .dst_reg = 0, .imm = 1000},
        {.code = BPF_JMP | BPF_JLT | BPF_K, .dst_reg = 0, .off = 2, .imm = per_mille},
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},  // TC_ACT_OK
        {.code = BPF_JMP | BPF_EXIT},
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 2},  // TC_ACT_SHOT
        {.code = BPF_JMP | BPF_EXIT},
    };
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_SCHED_CLS;
    a.insns = (unsigned long)program;
    a.insn_cnt = sizeof program / sizeof program[0];
    a.license = (unsigned long)"GPL";
    int fd = sys_bpf(BPF_PROG_LOAD, &a);
    if (fd < 0) {
        perror("tcx-drop: BPF_PROG_LOAD");
        return 1;
    }
    memset(&a, 0, sizeof a);
    a.link_create.prog_fd = fd;
    a.link_create.target_ifindex = ifindex;
    a.link_create.attach_type = BPF_TCX_EGRESS;
    if (sys_bpf(BPF_LINK_CREATE, &a) < 0) {
        perror("tcx-drop: BPF_LINK_CREATE");
        return 1;
    }
    printf("tcx-drop: dropping %d per mille at %s\n", per_mille, argv[1]);
    fflush(stdout);
    pause();
    return 0;
}
