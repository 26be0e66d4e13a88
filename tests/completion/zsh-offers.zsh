#!/usr/bin/env zsh
# What zsh offers for a command line, one match per line, with the completions in FPATH_DIR:
# a zsh -f in a pseudo-terminal (zpty) where compadd prints its matches instead of adding them.
# Usage: zsh-offers.zsh FPATH_DIR COMMAND_LINE
zmodload zsh/zpty || exit 77
zpty z zsh -f -i
zpty -w z "PROMPT=''; RPROMPT=''; PS2=''; unsetopt zle_bracketed_paste 2>/dev/null"
# Only the completion system itself besides ours: compinit scans every folder of fpath.
zpty -w z "fpath=(${(q)1} \${(M)fpath:#*/Completion(|/Base|/Unix|/Zsh)}); autoload -U compinit; compinit -u -D"
zpty -w z "zstyle ':completion:*' list-grouped false"
zpty -w z "zstyle ':completion:*' insert-tab false"
zpty -w z "zstyle ':completion:*' list-separator ''"
# Every match compadd is given goes to the terminal between markers, nothing is inserted.
zpty -w z 'compadd () {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  typeset -a __hits
  builtin compadd -A __hits "$@"
  local ret=$?
  (( $#__hits )) && print -rl -- "<KB>"${^__hits}
  return $ret
}'
zpty -w z 'finish () { zle -M "<KBEND>"; zle -I; }; comppostfuncs=(finish)'
zpty -w z "print '<KBREADY>'"
local line
while zpty -r z line; do [[ $line == *'<KBREADY>'* && $line != *print* ]] && break; done
zpty -n -w z "$2"$'\t'
# How long to wait for the completion to finish: 1,500 quiet reads of 20 ms (30 s), enough for a
# loaded machine (a --show completion runs kb-lookup); it ends as soon as the completion does.
integer tries=0
while zpty -r -t z line || (( ++tries < 1500 )); do
  [[ $line == *'<KBEND>'* ]] && break
  [[ $line == *'<KB>'* ]] && print -r -- "${${line##*<KB>}%%$'\r'}"
  line=
  (( tries )) && sleep 0.02
done
zpty -d z
