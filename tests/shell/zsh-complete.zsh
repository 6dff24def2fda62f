#!/usr/bin/env zsh
# Print what zsh's own completion system offers for command lines, the way
# a user's <TAB> would: an interactive zsh in a pseudo-terminal (zsh/zpty),
# compinit over FPATH_DIR, each line typed, then TAB. compadd is wrapped to
# print each candidate; the completion's post hook prints a marker. Output:
# for each LINE, `<<line>>` then its candidates, one per line.
#   zsh -f tests/shell/zsh-complete.zsh FPATH_DIR 'sk-migrate run --d' ...
# Used by tests/it/completions.rs.
emulate -L zsh
zmodload zsh/zpty || { print -u2 'zsh/zpty is missing'; exit 3 }
fpath_dir=$1; shift
setup=$(mktemp "${TMPDIR:-/tmp}/zsh-complete.XXXXXX") || exit 3
trap 'rm -f -- $setup $setup.dump' EXIT
cat > $setup <<SETUP
PROMPT= RPROMPT=
unsetopt beep
fpath=(${(q)fpath_dir} \$fpath)
autoload -Uz compinit && compinit -u -d ${(q)setup}.dump
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
bindkey '^U' kill-whole-line
__done() { print -r -- '<<done>>' }
# comppostfuncs is emptied after each completion: set it for every TAB.
__complete() { comppostfuncs=(__done); zle complete-word }
zle -N __complete
bindkey '^I' __complete
compadd() {
  # Calls that only ask for matches (-O/-A/-D) pass through.
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then
    builtin compadd "\$@"; return
  fi
  local -a __hits
  builtin compadd -A __hits "\$@"
  (( \$#__hits )) && print -rl -- '<<hit>>'\${^__hits}
  builtin compadd "\$@"
}
print -r -- '<<ready>>'
SETUP
zpty z zsh -f -i
zpty -w z "source ${(q)setup}"
zpty -r z out '*<<ready>>*' || { print -u2 'zsh did not start'; exit 3 }
for line in "$@"; do
  print -r -- '<<line>>'
  zpty -w -n z "$line"$'\t'
  zpty -r z out '*<<done>>*' || { print -u2 "no completion for: $line"; exit 4 }
  for l in ${(f)out}; do
    l=${l%$'\r'}
    [[ $l == *"<<hit>>"* ]] && print -r -- "${l##*<<hit>>}"
  done
  # Clear the line (and whatever TAB inserted) for the next one.
  zpty -w -n z $'\C-u'
done
zpty -d z
