function __labyrinthctl_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __labyrinthctl_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __labyrinthctl_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __labyrinthctl_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __labyrinthctl_parse_tokens -S
    set -l unparsed_tokens (__labyrinthctl_tokens -pc)
    switch $unparsed_tokens[1]
    case 'labyrinthctl'
        __labyrinthctl_parse_subcommand 0 'socket=' 'replay-socket=' 'json' 'h/help'
        switch $unparsed_tokens[1]
        case 'stats'
            __labyrinthctl_parse_subcommand 0 'socket=' 'replay-socket=' 'json' 'h/help'
        case 'workers'
            __labyrinthctl_parse_subcommand 0 'socket=' 'replay-socket=' 'json' 'h/help'
        case 'rooms'
            __labyrinthctl_parse_subcommand 0 'socket=' 'replay-socket=' 'json' 'h/help'
        case 'flows'
            __labyrinthctl_parse_subcommand 0 'socket=' 'replay-socket=' 'json' 'top=' 'by=' 'h/help'
        case 'flush'
            __labyrinthctl_parse_subcommand 0 'socket=' 'replay-socket=' 'json' 'h/help'
        case 'rotate'
            __labyrinthctl_parse_subcommand 0 'socket=' 'replay-socket=' 'json' 'h/help'
        case 'replay'
            __labyrinthctl_parse_subcommand 1 'socket=' 'replay-socket=' 'json' 'cancel=' 'by-path' 'speed=' 'multiplier=' 'pps=' 'mbps=' 'no-wait' 'h/help'
        case 'dump'
            __labyrinthctl_parse_subcommand -r 1 'socket=' 'replay-socket=' 'json' 'i/interface=' 'f/filter=' 'c=' 'duration=' 's=' 'w=' 'q' 'h/help'
        case 'extract'
            __labyrinthctl_parse_subcommand 0 'socket=' 'replay-socket=' 'json' 'from=' 'to=' 'f=' 'flow=' 'format=' 'w=' 'q' 'h/help'
        case 'prometheus'
            __labyrinthctl_parse_subcommand 0 'socket=' 'replay-socket=' 'json' 'h/help'
        case 'watch'
            __labyrinthctl_parse_subcommand 0 'socket=' 'replay-socket=' 'json' 'interval=' 'count=' 'h/help'
        case 'version'
            __labyrinthctl_parse_subcommand 0 'socket=' 'replay-socket=' 'json' 'h/help'
        case 'uptime'
            __labyrinthctl_parse_subcommand 0 'socket=' 'replay-socket=' 'json' 'h/help'
        case 'config'
            __labyrinthctl_parse_subcommand 0 'socket=' 'replay-socket=' 'json' 'h/help'
        case 'raw'
            __labyrinthctl_parse_subcommand 1 'socket=' 'replay-socket=' 'json' 'h/help'
        case 'help'
            __labyrinthctl_parse_subcommand -r 1 
        end
    end
end

function __labyrinthctl_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __labyrinthctl_parse_subcommand -S -a positional_count
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

function __labyrinthctl_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __labyrinthctl_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__labyrinthctl_tokens -p)
    if test -z "$(__labyrinthctl_tokens -t)"
        set -l index (count (__labyrinthctl_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'labyrinthctl' -f
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'stats' -d 'Totals over all workers.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'workers' -d 'Per worker: CPU, state, heartbeat and counters.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'rooms' -d 'Per room: the page allocator\'s counters.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'flows' -d 'The top flows over all workers.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'flush' -d 'End every flow now (IPFIX forced end); exported flows reach the collectors.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'rotate' -d 'Close every worker\'s recording file and start the next ([[sink]]).'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'replay' -d 'Push a capture through the running workers and follow it to the end.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'dump' -d 'Stream a live tap out of the running daemon as pcapng.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'extract' -d 'Extract a window, a flow and a filter from the daemon\'s recordings, as pcapng.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'prometheus' -d 'The counters in Prometheus text format.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'watch' -d 'A live view with per-second rates, refreshed in place (Ctrl-C ends it).'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'version' -d 'The daemon\'s version.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'uptime' -d 'How long the daemon has run.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'config' -d 'The running configuration (JSON).'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'raw' -d 'Send one raw JSON request line and print the reply.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_positional "labyrinthctl" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl stats" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl stats" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl stats" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl stats" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl workers" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl workers" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl workers" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl workers" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl rooms" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl rooms" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl rooms" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl rooms" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl flows" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl flows" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl flows" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl flows" top' -l 'top' -d 'How many (1...1000).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl flows" by' -l 'by' -d 'bytes or packets.' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl flows" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl flush" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl flush" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl flush" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl flush" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl rotate" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl rotate" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl rotate" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl rotate" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl replay" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl replay" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl replay" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl replay" cancel' -l 'cancel' -d 'Cancel this replay job (its number, as the job list shows it) instead of queuing a file.' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl replay" by-path' -l 'by-path' -d 'Send the path for the daemon to open (beneath replay.allowed_directories) instead of the file.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl replay" speed' -l 'speed' -d 'max or original.' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl replay" multiplier' -l 'multiplier' -d 'With --speed original: this many times faster.' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl replay" pps' -l 'pps' -d 'Packets per second.' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl replay" mbps' -l 'mbps' -d 'Megabits per second.' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl replay" no-wait' -l 'no-wait' -d 'Queue it and return without waiting.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl replay" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl dump" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl dump" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl dump" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl dump" i interface' -l 'interface' -s 'i' -d 'A configured source\'s interface, or "replay" for replayed frames (default: all).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl dump" f filter' -l 'filter' -s 'f' -d 'A tcpdump (BPF) expression; words after the options are one too.' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl dump" c' -s 'c' -d 'End after this many frames.' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl dump" duration' -l 'duration' -d 'End after this many seconds.' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl dump" s' -s 's' -d 'Bytes kept of each frame (default 262144).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl dump" w' -s 'w' -d 'Write pcapng to FILE, or - for standard output (the default when it is not a terminal).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl dump" q' -s 'q' -d 'No summary on standard error at the end.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl dump" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl extract" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl extract" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl extract" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl extract" from' -l 'from' -d 'The window\'s start (inclusive): epoch seconds with a fraction, or RFC 3339.' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl extract" to' -l 'to' -d 'The window\'s end (exclusive), as --from.' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl extract" f' -s 'f' -d 'A tcpdump (BPF) expression.' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl extract" flow' -l 'flow' -d 'The frames between two hosts, both ways: "A B [PROTO]".' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl extract" format' -l 'format' -d 'pcapng or pcap.' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl extract" w' -s 'w' -d 'Write to FILE, or - for standard output (the default when it is not a terminal).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl extract" q' -s 'q' -d 'No summary on standard error at the end.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl extract" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl prometheus" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl prometheus" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl prometheus" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl prometheus" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl watch" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl watch" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl watch" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl watch" interval' -l 'interval' -d 'Seconds between refreshes (0.1...3600).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl watch" count' -l 'count' -d 'Stop after this many refreshes (0: never).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl watch" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl version" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl version" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl version" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl version" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl uptime" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl uptime" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl uptime" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl uptime" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl config" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl config" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl config" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl config" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl raw" socket' -l 'socket' -d 'The daemon\'s stats socket (default: $LABYRINTH_SOCKET, else /run/labyrinth/labyrinthd.sock).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl raw" replay-socket' -l 'replay-socket' -d 'The daemon\'s replay socket, which takes files by descriptor (default: beside the stats socket).' -rfka ''
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl raw" json' -l 'json' -d 'Print the daemon\'s JSON result instead of a table.'
complete -c 'labyrinthctl' -n '__labyrinthctl_should_offer_completions_for_flags_or_options "labyrinthctl raw" h help' -s 'h' -l 'help' -d 'Show help information.'
