# `cmake --install` and `cpack -G DEB`: the binary, the man pages and completions that the build generated
# (cmake/Docs.cmake), the examples, and a systemd unit per node (packaging/kluster-node@.service.in).
include(GNUInstallDirs)
set(KLUSTER_INSTALL_DOCDIR ${CMAKE_INSTALL_DATADIR}/doc/klusterctl)

install(TARGETS klusterctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${KLUSTER_DOCS_DIR}/man/klusterctl.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(DIRECTORY ${KLUSTER_MAN_PAGES_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 FILES_MATCHING PATTERN "*.1")
install(FILES ${KLUSTER_DOCS_DIR}/completions/klusterctl.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME klusterctl)
install(FILES ${KLUSTER_DOCS_DIR}/completions/_klusterctl DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES ${KLUSTER_DOCS_DIR}/completions/klusterctl.fish
        DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)
install(FILES examples/node1.toml examples/prometheus.yml DESTINATION ${KLUSTER_INSTALL_DOCDIR}/examples)
install(DIRECTORY examples/grafana DESTINATION ${KLUSTER_INSTALL_DOCDIR}/examples)
# The manual: README.md links to the pages in docs/, which link to SECURITY.md.
install(FILES README.md SECURITY.md DESTINATION ${KLUSTER_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${KLUSTER_INSTALL_DOCDIR}/docs FILES_MATCHING PATTERN "*.md")

# systemd looks in <prefix>/lib/systemd/system for /usr and /usr/local alike (not in the multiarch libdir).
# The unit names the binary by its installed path, so it is written at install time, when the prefix is
# known (cpack installs with its own prefix, /usr).
install(CODE "
  set(KLUSTER_INSTALL_BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/packaging/kluster-node@.service.in\"
                 \"${CMAKE_BINARY_DIR}/packaging/kluster-node@.service\" @ONLY)")
install(FILES ${CMAKE_BINARY_DIR}/packaging/kluster-node@.service DESTINATION lib/systemd/system)

# The Debian package: klusterctl_<version>_<arch>.deb, its dependencies found by dpkg-shlibdeps.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME klusterctl)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "keeps PostgreSQL databases in sync through Apache Kafka")
set(CPACK_PACKAGE_DESCRIPTION
    "Kluster runs one node per database: every node applies the same Kafka log of SQL requests in the same order, exactly once, so the databases stay identical. klusterctl runs the nodes, sends requests, watches, backs up, restores and verifies the cluster.")
set(CPACK_PACKAGE_CONTACT "Kluster maintainers <kluster@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# backup and restore run pg_dump, pg_restore and psql.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "postgresql-client")
set(CPACK_STRIP_FILES ON)
include(CPack)

if(KLUSTER_BUILD_TESTS)
  set(_kluster_package_test bash ${PROJECT_SOURCE_DIR}/tests/package/package_test.sh)
  add_test(NAME install.tree COMMAND ${_kluster_package_test} install ${CMAKE_BINARY_DIR})
  add_test(NAME package.deb COMMAND ${_kluster_package_test} deb ${CMAKE_BINARY_DIR})
  # Both write the build tree's install manifest and packaging/ files: one at a time.
  set_tests_properties(install.tree package.deb PROPERTIES TIMEOUT 600 RESOURCE_LOCK install)
endif()

if(KLUSTER_BUILD_TESTS)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  add_test(NAME examples.compose COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/tests/examples/compose_test.py
                                         $<TARGET_FILE:klusterctl> ${PROJECT_SOURCE_DIR})
  set_tests_properties(examples.compose PROPERTIES TIMEOUT 60)
endif()
