# fish completion for kb-lookup: options, the values of --format and --color, files for --db,
# and for --show the entry ids of the knowledge base in use, from the hidden --list-ids.

function __kb_lookup_ids
    set -l words (commandline -opc)
    set -l db
    for i in (seq 2 (count $words))
        switch $words[$i]
            case --db
                set db --db $words[(math $i + 1)]
            case '--db=*'
                set db --db (string replace -- --db= '' $words[$i])
        end
    end
    command -q $words[1]; or return
    $words[1] $db --list-ids 2>/dev/null
end

complete -c kb-lookup -f
complete -c kb-lookup -l json -d 'print JSON (same as --format json)'
complete -c kb-lookup -l format -x -a 'text markdown json' -d 'output format'
complete -c kb-lookup -l top -x -d 'show at most N matches'
complete -c kb-lookup -l explain -d 'show which signatures or terms matched'
complete -c kb-lookup -l full -d 'the long form: why it happens, every answer in full'
complete -c kb-lookup -l all-providers -d 'keep the fix steps for every provider'
complete -c kb-lookup -l width -x -d 'wrap the text answer to N columns (0: no wrapping)'
complete -c kb-lookup -l no-pager -d 'do not page a long answer'
complete -c kb-lookup -l list -d 'list every entry of the knowledge base'
complete -c kb-lookup -l show -x -a '(__kb_lookup_ids)' -d 'print one entry in full'
complete -c kb-lookup -l check-db -d 'check the whole database and exit'
complete -c kb-lookup -l db -r -F -d 'add this KB as a layer over the built-in one'
complete -c kb-lookup -l no-builtin -d 'leave out the KB built into the program'
complete -c kb-lookup -l no-site -d 'leave out the site layers'
complete -c kb-lookup -l lang -x -d 'answer in this language when the KB holds it'
complete -c kb-lookup -l max-input -x -d 'refuse input larger than this'
complete -c kb-lookup -l color -x -a 'auto always never' -d 'when to use colour'
complete -c kb-lookup -l serve -d 'answer JSON requests, one a line on stdin'
complete -c kb-lookup -l log-misses -r -F -d 'append unanswered lookups, redacted, to FILE'
complete -c kb-lookup -l version -d 'print program, schema and knowledge-base versions'
complete -c kb-lookup -s h -l help -d 'print help'
