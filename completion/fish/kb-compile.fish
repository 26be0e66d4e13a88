# fish completion for kb-compile: options, a file for -o/--output, a folder for KB_DIR.

complete -c kb-compile -x -a '(__fish_complete_directories)'
complete -c kb-compile -s o -l output -r -F -d 'write the database to FILE'
complete -c kb-compile -l base -r -F -d 'compile an overlay for the KB in this database'
complete -c kb-compile -l strict -d 'with --base, make its warnings errors'
complete -c kb-compile -l check -d 'validate (and self-test) only; write nothing'
complete -c kb-compile -l no-self-test -d 'do not run the examples through the lookup'
complete -c kb-compile -l verify -r -F -d 'check a compiled database whole and exit'
complete -c kb-compile -s q -l quiet -d 'no summary line'
complete -c kb-compile -l color -x -a 'auto always never' -d 'colour diagnostics'
complete -c kb-compile -s h -l help -d 'show help'
complete -c kb-compile -l version -d 'show the program and database schema version'
complete -c kb-compile -l gaps -F -d 'group miss logs into the most frequent unanswered errors'
