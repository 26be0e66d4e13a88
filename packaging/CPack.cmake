# 'cpack -G DEB' from the build folder: one package, kb, with both programs, the database,
# the man pages, the shell completions, the documentation and libkb (libkb.so.N, libkb.a,
# kb.h, kb.pc), installed below /usr. One package rather than Debian's split into libkb0 and
# libkb-dev: the library is small and comes with the programs anyway; its SONAME still
# tells programs built against another ABI apart.
# Depends: is computed by dpkg-shlibdeps (package dpkg-dev) from the libraries the programs
# really link, so it is right for whatever the build linked.
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/json-schema.md
              ${CMAKE_SOURCE_DIR}/packaging/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_SOURCE_DIR}/docs/kb_client.py ${CMAKE_SOURCE_DIR}/examples/demo.c
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

set(CPACK_PACKAGE_NAME kb)
set(CPACK_PACKAGE_VENDOR "the kb authors")
set(CPACK_PACKAGE_CONTACT "kb maintainers <maintainers@kb.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "SMTP error knowledge base and lookup")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
# The summary above is the first line of Description:; CPack indents this text below it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "kb-lookup reads an error that an application printed while sending mail (a
one-liner or a whole log) and prints the matching troubleshooting entries with
their cause and fix, for Microsoft 365, Gmail, Exchange, Postfix and hosted
relays. The knowledge base is embedded in the program.

kb-compile validates Markdown articles and compiles them into a database that
kb-lookup answers from. kb-lookup --serve answers JSON requests, one a line, for
chatbots and other programs; libkb (with its header and pkg-config file) embeds
the lookup in a program.")
# The build folder holds the chroot of tests/packaging/deb.sh: never pack it.
set(CPACK_SOURCE_IGNORE_FILES "/build[^/]*/;/\\\\.git/")
include(CPack)
