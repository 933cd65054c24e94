
__labyrinthd_cursor_index_in_current_word() {
    local remaining="${COMP_LINE}"

    local word
    for word in "${COMP_WORDS[@]::COMP_CWORD}"; do
        remaining="${remaining##*([[:space:]])"${word}"*([[:space:]])}"
    done

    local -ir index="$((COMP_POINT - ${#COMP_LINE} + ${#remaining}))"
    if [[ "${index}" -le 0 ]]; then
        printf 0
    else
        printf %s "${index}"
    fi
}

# positional arguments:
#
# - 1: the current (sub)command's count of positional arguments
#
# required variables:
#
# - repeating_flags: the repeating flags that the current (sub)command can accept
# - non_repeating_flags: the non-repeating flags that the current (sub)command can accept
# - repeating_options: the repeating options that the current (sub)command can accept
# - non_repeating_options: the non-repeating options that the current (sub)command can accept
# - positional_number: value ignored
# - unparsed_words: unparsed words from the current command line
#
# modified variables:
#
# - non_repeating_flags: remove flags for this (sub)command that are already on the command line
# - non_repeating_options: remove options for this (sub)command that are already on the command line
# - positional_number: set to the current positional number
# - unparsed_words: remove all flags, options, and option values for this (sub)command
__labyrinthd_offer_flags_options() {
    local -ir positional_count="${1}"
    positional_number=0

    local was_flag_option_terminator_seen=false
    local is_parsing_option_value=false

    local -ar unparsed_word_indices=("${!unparsed_words[@]}")
    local -i word_index
    for word_index in "${unparsed_word_indices[@]}"; do
        if "${is_parsing_option_value}"; then
            # This word is an option value:
            # Reset marker for next word iff not currently the last word
            [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]] && is_parsing_option_value=false
            unset "unparsed_words[${word_index}]"
            # Do not process this word as a flag or an option
            continue
        fi

        local word="${unparsed_words["${word_index}"]}"
        if ! "${was_flag_option_terminator_seen}"; then
            case "${word}" in
            --)
                unset "unparsed_words[${word_index}]"
                # by itself -- is a flag/option terminator, but if it is the last word, it is the start of a completion
                if [[ "${word_index}" -ne "${unparsed_word_indices[${#unparsed_word_indices[@]} - 1]}" ]]; then
                    was_flag_option_terminator_seen=true
                fi
                continue
                ;;
            -*)
                # ${word} is a flag or an option
                # If ${word} is an option, mark that the next word to be parsed is an option value
                local option
                for option in "${repeating_options[@]}" "${non_repeating_options[@]}"; do
                    [[ "${word}" = "${option}" ]] && is_parsing_option_value=true && break
                done

                # Remove ${word} from ${non_repeating_flags} or ${non_repeating_options} so it isn't offered again
                local not_found=true
                local -i index
                for index in "${!non_repeating_flags[@]}"; do
                    if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                        unset "non_repeating_flags[${index}]"
                        non_repeating_flags=("${non_repeating_flags[@]}")
                        not_found=false
                        break
                    fi
                done
                if "${not_found}"; then
                    for index in "${!non_repeating_flags[@]}"; do
                        if [[ "${non_repeating_flags[${index}]}" = "${word}" ]]; then
                            unset "non_repeating_flags[${index}]"
                            non_repeating_flags=("${non_repeating_flags[@]}")
                            break
                        fi
                    done
                fi
                unset "unparsed_words[${word_index}]"
                continue
                ;;
            esac
        fi

        # ${word} is neither a flag, nor an option, nor an option value
        if [[ "${positional_number}" -lt "${positional_count}" || "${positional_count}" -lt 0 ]]; then
            # ${word} is a positional
            ((positional_number++))
            unset "unparsed_words[${word_index}]"
        else
            if [[ -z "${word}" ]]; then
                # Could be completing a flag, option, or subcommand
                positional_number=-1
            else
                # ${word} is a subcommand or invalid, so stop processing this (sub)command
                positional_number=-2
            fi
            break
        fi
    done

    unparsed_words=("${unparsed_words[@]}")

    if\
        ! "${was_flag_option_terminator_seen}"\
        && ! "${is_parsing_option_value}"\
        && [[ ("${cur}" = -* && "${positional_number}" -ge 0) || "${positional_number}" -eq -1 ]]
    then
        COMPREPLY+=($(compgen -W "${repeating_flags[*]} ${non_repeating_flags[*]} ${repeating_options[*]} ${non_repeating_options[*]}" -- "${cur}"))
    fi
}

__labyrinthd_add_completions() {
    local completion
    while IFS='' read -r completion; do
        COMPREPLY+=("${completion}")
    done < <(IFS=$'\n' compgen "${@}" -- "${cur}")
}

__labyrinthd_custom_complete() {
    if [[ -n "${cur}" || -z ${COMP_WORDS[${COMP_CWORD}]} || "${COMP_LINE:${COMP_POINT}:1}" != ' ' ]]; then
        local -ar words=("${COMP_WORDS[@]}")
    else
        local -ar words=("${COMP_WORDS[@]::${COMP_CWORD}}" '' "${COMP_WORDS[@]:${COMP_CWORD}}")
    fi

    "${COMP_WORDS[0]}" "${@}" "${words[@]}"
}

_labyrinthd() {
    local state
    state="$(shopt -p;shopt -po)"
    trap "${state//$'\n'/;}" RETURN
    shopt -s extglob
    set +o history +o posix

    local -xr SAP_SHELL=bash
    local -x SAP_SHELL_VERSION
    SAP_SHELL_VERSION="$(IFS='.';printf %s "${BASH_VERSINFO[*]}")"
    local -r SAP_SHELL_VERSION

    local -r cur="${2}"
    local -r prev="${3}"

    local -i positional_number
    local -a unparsed_words=("${COMP_WORDS[@]:1:${COMP_CWORD}}")

    local -a repeating_flags=()
    local -a non_repeating_flags=(--version -h --help)
    local -a repeating_options=()
    local -a non_repeating_options=()
    __labyrinthd_offer_flags_options 0

    # Offer subcommand / subcommand argument completions
    local -r subcommand="${unparsed_words[0]}"
    unset 'unparsed_words[0]'
    unparsed_words=("${unparsed_words[@]}")
    case "${subcommand}" in
    run|check-config|replay|capture|extract|index|layout|config-reference|help)
        # Offer subcommand argument completions
        "_labyrinthd_${subcommand}"
        ;;
    *)
        # Offer subcommand completions
        COMPREPLY+=($(compgen -W 'run check-config replay capture extract index layout config-reference help' -- "${cur}"))
        ;;
    esac
}

_labyrinthd_run() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--config)
    __labyrinthd_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--config')
        return
        ;;
    esac
}

_labyrinthd_check-config() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __labyrinthd_offer_flags_options 1
}

_labyrinthd_replay() {
    repeating_flags=()
    non_repeating_flags=(--json --cache-writes --no-index --no-lock --version -h --help)
    repeating_options=(--ipfix)
    non_repeating_options=(--workers --cpus --priority --speed --multiplier --pps --mbps --max-gap --loop --ring --filter -f --budget --flows --idle-timeout --active-timeout --tcp-linger --top --observation-domain --ipfix-mtu --template-refresh --template-refresh-messages --ipfix-rate --export-ring -w --write -C --rotate-size -G --rotate-seconds -W --max-files --format -s --write-snaplen --flush-ms --min-free --pages-in-flight --pages-per-room --lock --chunk-size --fragment-alignment --batch --prefetch)
    __labyrinthd_offer_flags_options -1

    # Offer option value completions
    case "${prev}" in
    '--workers')
        return
        ;;
    '--cpus')
        return
        ;;
    '--priority')
        return
        ;;
    '--speed')
        return
        ;;
    '--multiplier')
        return
        ;;
    '--pps')
        return
        ;;
    '--mbps')
        return
        ;;
    '--max-gap')
        return
        ;;
    '--loop')
        return
        ;;
    '--ring')
        return
        ;;
    '--filter'|'-f')
        return
        ;;
    '--budget')
        return
        ;;
    '--flows')
        return
        ;;
    '--idle-timeout')
        return
        ;;
    '--active-timeout')
        return
        ;;
    '--tcp-linger')
        return
        ;;
    '--top')
        return
        ;;
    '--ipfix')
        return
        ;;
    '--observation-domain')
        return
        ;;
    '--ipfix-mtu')
        return
        ;;
    '--template-refresh')
        return
        ;;
    '--template-refresh-messages')
        return
        ;;
    '--ipfix-rate')
        return
        ;;
    '--export-ring')
        return
        ;;
    '-w'|'--write')
        return
        ;;
    '-C'|'--rotate-size')
        return
        ;;
    '-G'|'--rotate-seconds')
        return
        ;;
    '-W'|'--max-files')
        return
        ;;
    '--format')
        return
        ;;
    '-s'|'--write-snaplen')
        return
        ;;
    '--flush-ms')
        return
        ;;
    '--min-free')
        return
        ;;
    '--pages-in-flight')
        return
        ;;
    '--pages-per-room')
        return
        ;;
    '--lock')
        __labyrinthd_add_completions -W 'required'$'\n''best-effort'$'\n''off'
        return
        ;;
    '--chunk-size')
        return
        ;;
    '--fragment-alignment')
        return
        ;;
    '--batch')
        return
        ;;
    '--prefetch')
        return
        ;;
    esac
}

_labyrinthd_capture() {
    repeating_flags=()
    non_repeating_flags=(--mlockall --no-promiscuous --immediate --kernel-timestamps --busy-poll --json --cache-writes --no-index --no-lock --version -h --help)
    repeating_options=(--ipfix)
    non_repeating_options=(--interface -i --backend --workers --cpus --priority --filter -f --duration -c --count --fanout --fanout-group --snaplen --buffer-mib --timeout-ms --buffers --budget --flows --idle-timeout --active-timeout --tcp-linger --top --observation-domain --ipfix-mtu --template-refresh --template-refresh-messages --ipfix-rate --export-ring -w --write -C --rotate-size -G --rotate-seconds -W --max-files --format -s --write-snaplen --flush-ms --min-free --pages-in-flight --pages-per-room --lock --chunk-size --fragment-alignment --batch --prefetch)
    __labyrinthd_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--interface'|'-i')
        return
        ;;
    '--backend')
        __labyrinthd_add_completions -W 'pcap'$'\n''uring'$'\n''tpacket'
        return
        ;;
    '--workers')
        return
        ;;
    '--cpus')
        return
        ;;
    '--priority')
        return
        ;;
    '--filter'|'-f')
        return
        ;;
    '--duration')
        return
        ;;
    '-c'|'--count')
        return
        ;;
    '--fanout')
        __labyrinthd_add_completions -W 'hash'$'\n''lb'$'\n''cpu'$'\n''qm'
        return
        ;;
    '--fanout-group')
        return
        ;;
    '--snaplen')
        return
        ;;
    '--buffer-mib')
        return
        ;;
    '--timeout-ms')
        return
        ;;
    '--buffers')
        return
        ;;
    '--budget')
        return
        ;;
    '--flows')
        return
        ;;
    '--idle-timeout')
        return
        ;;
    '--active-timeout')
        return
        ;;
    '--tcp-linger')
        return
        ;;
    '--top')
        return
        ;;
    '--ipfix')
        return
        ;;
    '--observation-domain')
        return
        ;;
    '--ipfix-mtu')
        return
        ;;
    '--template-refresh')
        return
        ;;
    '--template-refresh-messages')
        return
        ;;
    '--ipfix-rate')
        return
        ;;
    '--export-ring')
        return
        ;;
    '-w'|'--write')
        return
        ;;
    '-C'|'--rotate-size')
        return
        ;;
    '-G'|'--rotate-seconds')
        return
        ;;
    '-W'|'--max-files')
        return
        ;;
    '--format')
        return
        ;;
    '-s'|'--write-snaplen')
        return
        ;;
    '--flush-ms')
        return
        ;;
    '--min-free')
        return
        ;;
    '--pages-in-flight')
        return
        ;;
    '--pages-per-room')
        return
        ;;
    '--lock')
        __labyrinthd_add_completions -W 'required'$'\n''best-effort'$'\n''off'
        return
        ;;
    '--chunk-size')
        return
        ;;
    '--fragment-alignment')
        return
        ;;
    '--batch')
        return
        ;;
    '--prefetch')
        return
        ;;
    esac
}

_labyrinthd_extract() {
    repeating_flags=()
    non_repeating_flags=(--json --version -h --help)
    repeating_options=()
    non_repeating_options=(--dir --from --to -f --flow -w --format --read-rate)
    __labyrinthd_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--dir')
        return
        ;;
    '--from')
        return
        ;;
    '--to')
        return
        ;;
    '-f')
        return
        ;;
    '--flow')
        return
        ;;
    '-w')
        return
        ;;
    '--format')
        return
        ;;
    '--read-rate')
        return
        ;;
    esac
}

_labyrinthd_index() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=()
    __labyrinthd_offer_flags_options -1
}

_labyrinthd_layout() {
    repeating_flags=()
    non_repeating_flags=(--no-lock --version -h --help)
    repeating_options=()
    non_repeating_options=(--rooms --pages-per-room --lock --chunk-size --fragment-alignment --batch --prefetch)
    __labyrinthd_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--rooms')
        return
        ;;
    '--pages-per-room')
        return
        ;;
    '--lock')
        __labyrinthd_add_completions -W 'required'$'\n''best-effort'$'\n''off'
        return
        ;;
    '--chunk-size')
        return
        ;;
    '--fragment-alignment')
        return
        ;;
    '--batch')
        return
        ;;
    '--prefetch')
        return
        ;;
    esac
}

_labyrinthd_config-reference() {
    repeating_flags=()
    non_repeating_flags=(--version -h --help)
    repeating_options=()
    non_repeating_options=(--format)
    __labyrinthd_offer_flags_options 0

    # Offer option value completions
    case "${prev}" in
    '--format')
        __labyrinthd_add_completions -W 'markdown'$'\n''man'
        return
        ;;
    esac
}

_labyrinthd_help() {
    repeating_flags=()
    non_repeating_flags=(--version)
    repeating_options=()
    non_repeating_options=()
    __labyrinthd_offer_flags_options -1
}

complete -o filenames -F _labyrinthd labyrinthd
