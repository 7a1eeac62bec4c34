# bash completion for arca(1), arca-run(1) and arcad(8). Installed as
# /usr/share/bash-completion/completions/{arca,arcad,arca-run}.
# arcad's flags come from `arcad --help`, so new flags complete without an edit here.

_arca()
{
    local cur prev words cword
    _init_completion || return
    local globals="--cas --identity -o --output --help --version"
    case $prev in
        --identity) _filedir -d; return ;;
        -o|--output) COMPREPLY=($(compgen -W "json" -- "$cur")); return ;;
        --cas) return ;;
    esac
    local group="" sub="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --cas|--identity|-o|--output) ((i++)) ;;
            -*) ;;
            *) if [[ -z $group ]]; then group=${words[i]}; elif [[ -z $sub ]]; then sub=${words[i]}; fi ;;
        esac
    done
    if [[ -z $group ]]; then
        COMPREPLY=($(compgen -W "session self cas status audit evidence fspf proposal help $globals" -- "$cur"))
        return
    fi
    if [[ -z $sub ]]; then
        local subs=""
        case $group in
            session) subs="check hash create update apply diff read list history verify encrypt sign help" ;;
            self) subs="keygen show help" ;;
            cas) subs="attest show list use forget provision register-upgrade register-backup owner rotate-key audit-checkpoint snapshot help" ;;
            proposal) subs="submit list show message approve reject help" ;;
            help) subs="session self cas status audit evidence fspf proposal" ;;
            status) subs="" ;;
            audit) subs="verify show tail rotate help" ;;
            evidence) subs="verify" ;;
            fspf) subs="encrypt show decrypt help" ;;
        esac
        COMPREPLY=($(compgen -W "$subs --help" -- "$cur"))
        return
    fi
    if [[ $group/$sub == cas/use || $group/$sub == cas/forget ]] && [[ $cur != -* ]]; then
        local pinned
        pinned=$("${words[0]}" cas list 2>/dev/null | cut -f1 | tr -d '* ')
        COMPREPLY=($(compgen -W "$pinned" -- "$cur"))
        return
    fi
    if [[ $cur == -* ]]; then
        local flags="--help -o"
        case $group/$sub in
            self/keygen) flags+=" --force" ;;
            cas/attest) flags+=" --accept-simulation --use --measurement" ;;
            cas/show) flags+=" --env --session-encryption-key" ;;
            session/hash) flags+=" --creator-key --self" ;;
            session/read) flags+=" --hash" ;;
            session/list) flags+=" --prefix --page-size" ;;
            audit/verify) flags+=" --key --cas-key --checkpoint" ;;
            audit/show) flags+=" --session --service --event --since --until" ;;
            audit/tail) flags+=" --session --service --event --since --until -n --follow" ;;
            audit/rotate) flags+=" --pid --pidfile" ;;
            evidence/verify) flags+=" --type --collateral --at" ;;
        esac
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
        return
    fi
    _filedir
}
complete -F _arca arca

_arcad()
{
    local cur prev words cword
    _init_completion || return
    case $prev in
        --config|--pidfile|--collateral) _filedir; return ;;
        --data-dir|--sim-dir|--snp-certs) _filedir -d; return ;;
        --log-level) COMPREPLY=($(compgen -W "debug info warn error" -- "$cur")); return ;;
    esac
    local flags
    flags=$("${words[0]}" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u)
    COMPREPLY=($(compgen -W "$flags --help --version" -- "$cur"))
}
complete -F _arcad arcad

_arca_run()
{
    local cur prev words cword
    _init_completion || return
    if [[ $cword -eq 1 ]]; then
        COMPREPLY=($(compgen -W "--measure --help" -- "$cur"))
        [[ $cur != -* ]] && _command_offset 1
        return
    fi
    _command_offset 1
}
complete -F _arca_run arca-run
