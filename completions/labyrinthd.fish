function __labyrinthd_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __labyrinthd_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __labyrinthd_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __labyrinthd_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __labyrinthd_parse_tokens -S
    set -l unparsed_tokens (__labyrinthd_tokens -pc)
    switch $unparsed_tokens[1]
    case 'labyrinthd'
        __labyrinthd_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'run'
            __labyrinthd_parse_subcommand 0 'config=' 'version' 'h/help'
        case 'check-config'
            __labyrinthd_parse_subcommand 1 'version' 'h/help'
        case 'replay'
            __labyrinthd_parse_subcommand -r 1 'workers=' 'cpus=' 'priority=' 'speed=' 'multiplier=' 'pps=' 'mbps=' 'max-gap=' 'loop=' 'ring=' 'f/filter=' 'budget=' 'flows=' 'idle-timeout=' 'active-timeout=' 'tcp-linger=' 'top=' 'json' 'ipfix=+' 'observation-domain=' 'ipfix-mtu=' 'template-refresh=' 'template-refresh-messages=' 'ipfix-rate=' 'export-ring=' 'w/write=' 'C/rotate-size=' 'G/rotate-seconds=' 'W/max-files=' 'format=' 's/write-snaplen=' 'flush-ms=' 'min-free=' 'pages-in-flight=' 'cache-writes' 'no-index' 'pages-per-room=' 'lock=' 'no-lock' 'chunk-size=' 'fragment-alignment=' 'batch=' 'prefetch=' 'version' 'h/help'
        case 'capture'
            __labyrinthd_parse_subcommand 0 'i/interface=' 'backend=' 'workers=' 'cpus=' 'priority=' 'mlockall' 'f/filter=' 'duration=' 'c/count=' 'fanout=' 'fanout-group=' 'snaplen=' 'no-promiscuous' 'buffer-mib=' 'immediate' 'timeout-ms=' 'kernel-timestamps' 'busy-poll' 'buffers=' 'budget=' 'flows=' 'idle-timeout=' 'active-timeout=' 'tcp-linger=' 'top=' 'json' 'ipfix=+' 'observation-domain=' 'ipfix-mtu=' 'template-refresh=' 'template-refresh-messages=' 'ipfix-rate=' 'export-ring=' 'w/write=' 'C/rotate-size=' 'G/rotate-seconds=' 'W/max-files=' 'format=' 's/write-snaplen=' 'flush-ms=' 'min-free=' 'pages-in-flight=' 'cache-writes' 'no-index' 'pages-per-room=' 'lock=' 'no-lock' 'chunk-size=' 'fragment-alignment=' 'batch=' 'prefetch=' 'version' 'h/help'
        case 'extract'
            __labyrinthd_parse_subcommand 0 'dir=' 'from=' 'to=' 'f=' 'flow=' 'w=' 'format=' 'read-rate=' 'json' 'version' 'h/help'
        case 'index'
            __labyrinthd_parse_subcommand -r 1 'version' 'h/help'
        case 'layout'
            __labyrinthd_parse_subcommand 0 'rooms=' 'pages-per-room=' 'lock=' 'no-lock' 'chunk-size=' 'fragment-alignment=' 'batch=' 'prefetch=' 'version' 'h/help'
        case 'config-reference'
            __labyrinthd_parse_subcommand 0 'format=' 'version' 'h/help'
        case 'help'
            __labyrinthd_parse_subcommand -r 1 'version'
        end
    end
end

function __labyrinthd_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __labyrinthd_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __labyrinthd_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __labyrinthd_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__labyrinthd_tokens -p)
    if test -z "$(__labyrinthd_tokens -t)"
        set -l index (count (__labyrinthd_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'labyrinthd' -f
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd" version' -l 'version' -d 'Show the version.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_positional "labyrinthd" -eq 1' -fa 'run' -d 'Run the daemon in the foreground until SIGTERM or SIGINT (SIGHUP reloads).'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_positional "labyrinthd" -eq 1' -fa 'check-config' -d 'Validate a configuration file and exit (0: valid; 78: not, naming the key and line).'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_positional "labyrinthd" -eq 1' -fa 'replay' -d 'Replay pcap/pcapng files through the pinned workers and print a report.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_positional "labyrinthd" -eq 1' -fa 'capture' -d 'Capture from an interface through the pinned workers and print a report.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_positional "labyrinthd" -eq 1' -fa 'extract' -d 'Extract the frames of a time window, a flow and a filter from a ring of recordings.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_positional "labyrinthd" -eq 1' -fa 'index' -d 'Build the index of finished recordings (after a crash, or for files another tool wrote).'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_positional "labyrinthd" -eq 1' -fa 'layout' -d 'Build the arena and rooms, print their layout and run the leak check.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_positional "labyrinthd" -eq 1' -fa 'config-reference' -d 'Print the configuration reference: every key, its type, range, default and whether it changes live.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_positional "labyrinthd" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd run" config' -l 'config' -d 'The configuration file.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd run" version' -l 'version' -d 'Show the version.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd run" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd check-config" version' -l 'version' -d 'Show the version.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd check-config" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" workers' -l 'workers' -d 'Workers, one per room (default: one per CPU the process may use; for replay one less, for the reader).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" cpus' -l 'cpus' -d 'Comma-separated CPUs to pin workers to, in order (default: the allowed CPUs in order; none: unpinned).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" priority' -l 'priority' -d 'Run workers under SCHED_FIFO at this priority (1-99).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" speed' -l 'speed' -d 'max (default) or original: the capture\'s own timing.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" multiplier' -l 'multiplier' -d 'With --speed original: replay this many times faster.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" pps' -l 'pps' -d 'Pace at this many packets per second.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" mbps' -l 'mbps' -d 'Pace at this many megabits per second (wire length).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" max-gap' -l 'max-gap' -d 'Paced replays: wait at most this many seconds between two frames (0: no limit); longer gaps are cut, as tcpreplay\'s --maxsleep.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" loop' -l 'loop' -d 'Replay each file this many times.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" ring' -l 'ring' -d 'Frames each worker\'s queue holds (32 bytes each).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" f filter' -l 'filter' -s 'f' -d 'Replay only the frames that match this BPF filter (tcpdump syntax, run in user space with pcap_offline_filter; others are counted filtered).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" budget' -l 'budget' -d 'Frames a worker polls (per source) before checking in (NAPI budget).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" flows' -l 'flows' -d 'Flow table slots per worker.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" idle-timeout' -l 'idle-timeout' -d 'Seconds of silence (on the capture\'s clock in replay) after which a flow ends.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" active-timeout' -l 'active-timeout' -d 'Seconds after which a flow\'s record is exported and its counters start afresh.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" tcp-linger' -l 'tcp-linger' -d 'Seconds a TCP flow lingers after FIN both ways or RST, for the last ACKs.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" top' -l 'top' -d 'Top flows to list.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" json' -l 'json' -d 'Print one JSON object instead of the summary.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay"' -l 'ipfix' -d 'Export ended flows as IPFIX over UDP to HOST:PORT or [IPv6]:PORT (port 4739 by default); repeat for more collectors.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" observation-domain' -l 'observation-domain' -d 'The IPFIX observation domain.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" ipfix-mtu' -l 'ipfix-mtu' -d 'The largest IPFIX message in bytes (304...65535).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" template-refresh' -l 'template-refresh' -d 'Seconds between template refreshes (and after --template-refresh-messages messages).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" template-refresh-messages' -l 'template-refresh-messages' -d 'Messages between template refreshes.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" ipfix-rate' -l 'ipfix-rate' -d 'Records a second at most (a collector on the same box keeps up); default: no limit.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" export-ring' -l 'export-ring' -d 'Ended flows each worker\'s export ring holds (a full ring drops and counts).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" w write' -s 'w' -l 'write' -d 'Write the frames to PATH (- for standard output, one worker).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" C rotate-size' -s 'C' -l 'rotate-size' -d 'Start a new file once this one holds SIZE: a bare number is millions of bytes (as tcpdump\'s -C), or 200KiB, 512MB, 1GiB.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" G rotate-seconds' -s 'G' -l 'rotate-seconds' -d 'Start a new file every N seconds, the files aligned to multiples of N since the epoch (the wall clock live, the packets\' own clock in a replay); a quiet link still rotates.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" W max-files' -s 'W' -l 'max-files' -d 'Keep only the newest N files of this run, removing older ones: a ring, with -C and/or -G (not tcpdump\'s -W, which exits after N files with -G).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" format' -l 'format' -d 'pcapng (default; interface and statistics blocks) or pcap (classic, nanosecond timestamps, one link type).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" s write-snaplen' -s 's' -l 'write-snaplen' -d 'Write at most this many bytes of each frame.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" flush-ms' -l 'flush-ms' -d 'Data reaches the file within this many milliseconds, even at low rates (as tcpdump\'s -U does at once).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" min-free' -l 'min-free' -d 'Below this much free space (e.g. 2GiB): remove the oldest files with -W, else stop writing (counted unwritten.disk_full) until space comes back.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" pages-in-flight' -l 'pages-in-flight' -d 'Pages each worker may hold in flight to the disk (default: a quarter of its room); beyond, frames are counted unwritten.overload.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" cache-writes' -l 'cache-writes' -d 'Do not ask for RWF_DONTCACHE (written pages then stay in the page cache).'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" no-index' -l 'no-index' -d 'Write no index beside each finished file (labyrinthd extract then scans them).'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" pages-per-room' -l 'pages-per-room' -d 'Pages of 4 KiB per room (a multiple of 16).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" lock' -l 'lock' -d 'Lock the arena in memory: required, best-effort (lock if RLIMIT_MEMLOCK allows) or off.' -rfka 'required best-effort off'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" no-lock' -l 'no-lock' -d 'Same as --lock off.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" chunk-size' -l 'chunk-size' -d 'Frames share chunks of this many bytes of the room (4KiB, 8KiB, 16KiB, 32KiB or 64KiB).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" fragment-alignment' -l 'fragment-alignment' -d 'Without recording, fragments start at multiples of this many bytes (8 or 64).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" batch' -l 'batch' -d 'Frames per batch between the copy pass and the decode pass.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" prefetch' -l 'prefetch' -d 'Replay: the copy pass prefetches the frame this many places ahead (0: none).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" version' -l 'version' -d 'Show the version.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd replay" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" i interface' -l 'interface' -s 'i' -d 'The interface.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" backend' -l 'backend' -d 'pcap, tpacket or uring (default: tpacket on an Ethernet or loopback interface, else pcap).' -rfka 'pcap uring tpacket'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" workers' -l 'workers' -d 'Workers, one per room (default: one per CPU the process may use; for replay one less, for the reader).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" cpus' -l 'cpus' -d 'Comma-separated CPUs to pin workers to, in order (default: the allowed CPUs in order; none: unpinned).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" priority' -l 'priority' -d 'Run workers under SCHED_FIFO at this priority (1-99).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" mlockall' -l 'mlockall' -d 'mlockall(MCL_CURRENT | MCL_FUTURE) the whole process.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" f filter' -l 'filter' -s 'f' -d 'A BPF filter in tcpdump syntax, run in the kernel.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" duration' -l 'duration' -d 'Stop after this many seconds.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" c count' -s 'c' -l 'count' -d 'Stop after this many packets (over all workers).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" fanout' -l 'fanout' -d 'hash, lb, cpu or qm.' -rfka 'hash lb cpu qm'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" fanout-group' -l 'fanout-group' -d 'The PACKET_FANOUT group id (default: derived from the process and interface).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" snaplen' -l 'snaplen' -d 'Bytes kept per frame (pcap).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" no-promiscuous' -l 'no-promiscuous' -d 'Do not put the interface in promiscuous mode.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" buffer-mib' -l 'buffer-mib' -d 'Kernel buffer per handle in MiB (pcap\'s ring, or the socket buffer for uring; default 32).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" immediate' -l 'immediate' -d 'pcap: deliver frames at once instead of by filled block.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" timeout-ms' -l 'timeout-ms' -d 'pcap: the block timeout in milliseconds.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" kernel-timestamps' -l 'kernel-timestamps' -d 'uring: kernel receive timestamps per frame (SO_TIMESTAMPNS) instead of the batch\'s time.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" busy-poll' -l 'busy-poll' -d 'Poll without ever sleeping.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" buffers' -l 'buffers' -d 'uring: pages each socket lends the kernel (a power of two).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" budget' -l 'budget' -d 'Frames a worker polls (per source) before checking in (NAPI budget).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" flows' -l 'flows' -d 'Flow table slots per worker.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" idle-timeout' -l 'idle-timeout' -d 'Seconds of silence (on the capture\'s clock in replay) after which a flow ends.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" active-timeout' -l 'active-timeout' -d 'Seconds after which a flow\'s record is exported and its counters start afresh.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" tcp-linger' -l 'tcp-linger' -d 'Seconds a TCP flow lingers after FIN both ways or RST, for the last ACKs.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" top' -l 'top' -d 'Top flows to list.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" json' -l 'json' -d 'Print one JSON object instead of the summary.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture"' -l 'ipfix' -d 'Export ended flows as IPFIX over UDP to HOST:PORT or [IPv6]:PORT (port 4739 by default); repeat for more collectors.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" observation-domain' -l 'observation-domain' -d 'The IPFIX observation domain.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" ipfix-mtu' -l 'ipfix-mtu' -d 'The largest IPFIX message in bytes (304...65535).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" template-refresh' -l 'template-refresh' -d 'Seconds between template refreshes (and after --template-refresh-messages messages).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" template-refresh-messages' -l 'template-refresh-messages' -d 'Messages between template refreshes.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" ipfix-rate' -l 'ipfix-rate' -d 'Records a second at most (a collector on the same box keeps up); default: no limit.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" export-ring' -l 'export-ring' -d 'Ended flows each worker\'s export ring holds (a full ring drops and counts).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" w write' -s 'w' -l 'write' -d 'Write the frames to PATH (- for standard output, one worker).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" C rotate-size' -s 'C' -l 'rotate-size' -d 'Start a new file once this one holds SIZE: a bare number is millions of bytes (as tcpdump\'s -C), or 200KiB, 512MB, 1GiB.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" G rotate-seconds' -s 'G' -l 'rotate-seconds' -d 'Start a new file every N seconds, the files aligned to multiples of N since the epoch (the wall clock live, the packets\' own clock in a replay); a quiet link still rotates.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" W max-files' -s 'W' -l 'max-files' -d 'Keep only the newest N files of this run, removing older ones: a ring, with -C and/or -G (not tcpdump\'s -W, which exits after N files with -G).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" format' -l 'format' -d 'pcapng (default; interface and statistics blocks) or pcap (classic, nanosecond timestamps, one link type).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" s write-snaplen' -s 's' -l 'write-snaplen' -d 'Write at most this many bytes of each frame.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" flush-ms' -l 'flush-ms' -d 'Data reaches the file within this many milliseconds, even at low rates (as tcpdump\'s -U does at once).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" min-free' -l 'min-free' -d 'Below this much free space (e.g. 2GiB): remove the oldest files with -W, else stop writing (counted unwritten.disk_full) until space comes back.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" pages-in-flight' -l 'pages-in-flight' -d 'Pages each worker may hold in flight to the disk (default: a quarter of its room); beyond, frames are counted unwritten.overload.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" cache-writes' -l 'cache-writes' -d 'Do not ask for RWF_DONTCACHE (written pages then stay in the page cache).'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" no-index' -l 'no-index' -d 'Write no index beside each finished file (labyrinthd extract then scans them).'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" pages-per-room' -l 'pages-per-room' -d 'Pages of 4 KiB per room (a multiple of 16).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" lock' -l 'lock' -d 'Lock the arena in memory: required, best-effort (lock if RLIMIT_MEMLOCK allows) or off.' -rfka 'required best-effort off'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" no-lock' -l 'no-lock' -d 'Same as --lock off.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" chunk-size' -l 'chunk-size' -d 'Frames share chunks of this many bytes of the room (4KiB, 8KiB, 16KiB, 32KiB or 64KiB).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" fragment-alignment' -l 'fragment-alignment' -d 'Without recording, fragments start at multiples of this many bytes (8 or 64).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" batch' -l 'batch' -d 'Frames per batch between the copy pass and the decode pass.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" prefetch' -l 'prefetch' -d 'Replay: the copy pass prefetches the frame this many places ahead (0: none).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" version' -l 'version' -d 'Show the version.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd capture" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd extract" dir' -l 'dir' -d 'The directory of the ring.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd extract" from' -l 'from' -d 'The window\'s start (inclusive): epoch seconds with a fraction, or RFC 3339.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd extract" to' -l 'to' -d 'The window\'s end (exclusive), as --from.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd extract" f' -s 'f' -d 'A tcpdump filter expression, applied with pcap_offline_filter.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd extract" flow' -l 'flow' -d 'The frames between two hosts, both ways: "A B [PROTO]", A and B with optional ports.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd extract" w' -s 'w' -d 'Where to write (- is standard output).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd extract" format' -l 'format' -d 'pcapng or pcap.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd extract" read-rate' -l 'read-rate' -d 'Read at most this many bytes per second: bytes, or a size such as 50MiB; default: no bound.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd extract" json' -l 'json' -d 'The report as one JSON object.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd extract" version' -l 'version' -d 'Show the version.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd extract" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd index" version' -l 'version' -d 'Show the version.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd index" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd layout" rooms' -l 'rooms' -d 'Rooms, one per worker (default: one per online CPU).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd layout" pages-per-room' -l 'pages-per-room' -d 'Pages of 4 KiB per room (a multiple of 16).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd layout" lock' -l 'lock' -d 'Lock the arena in memory: required, best-effort (lock if RLIMIT_MEMLOCK allows) or off.' -rfka 'required best-effort off'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd layout" no-lock' -l 'no-lock' -d 'Same as --lock off.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd layout" chunk-size' -l 'chunk-size' -d 'Frames share chunks of this many bytes of the room (4KiB, 8KiB, 16KiB, 32KiB or 64KiB).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd layout" fragment-alignment' -l 'fragment-alignment' -d 'Without recording, fragments start at multiples of this many bytes (8 or 64).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd layout" batch' -l 'batch' -d 'Frames per batch between the copy pass and the decode pass.' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd layout" prefetch' -l 'prefetch' -d 'Replay: the copy pass prefetches the frame this many places ahead (0: none).' -rfka ''
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd layout" version' -l 'version' -d 'Show the version.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd layout" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd config-reference" format' -l 'format' -d 'markdown (docs/configuration.md) or man (labyrinth.toml(5), roff).' -rfka 'markdown man'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd config-reference" version' -l 'version' -d 'Show the version.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd config-reference" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthd' -n '__labyrinthd_should_offer_completions_for_flags_or_options "labyrinthd help" version' -l 'version' -d 'Show the version.'
