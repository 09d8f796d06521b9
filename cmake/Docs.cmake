# The man pages and shell completions are generated from the CLI definitions by the built klusterctl
# (`klusterctl generate man|man-pages|bash|zsh|fish`), so they cannot drift from --help: klusterctl.1 for
# the whole tool and klusterctl-<command>.1 for each command. They are built into
# ${CMAKE_BINARY_DIR}/docs on every build; copies are committed in man/ and completions/ so that the source
# tree ships them. The ctest docs.up_to_date fails when the committed copies drift; the update-docs target
# refreshes them:  cmake --build build --target update-docs
set(KLUSTER_DOCS_DIR ${CMAKE_BINARY_DIR}/docs)
# path in the repository : what `klusterctl generate` writes
set(KLUSTER_DOCS man/klusterctl.1:man completions/klusterctl.bash:bash completions/_klusterctl:zsh
                 completions/klusterctl.fish:fish)

set(_kluster_doc_outputs)
set(_kluster_doc_copies)
foreach(entry IN LISTS KLUSTER_DOCS)
  string(REPLACE ":" ";" parts ${entry})
  list(GET parts 0 path)
  list(GET parts 1 kind)
  get_filename_component(dir ${KLUSTER_DOCS_DIR}/${path} DIRECTORY)
  add_custom_command(
    OUTPUT ${KLUSTER_DOCS_DIR}/${path}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
    COMMAND klusterctl generate ${kind} --out ${KLUSTER_DOCS_DIR}/${path}
    DEPENDS klusterctl
    COMMENT "Generating ${path}"
    VERBATIM)
  list(APPEND _kluster_doc_outputs ${KLUSTER_DOCS_DIR}/${path})
  list(APPEND _kluster_doc_copies
       COMMAND ${CMAKE_COMMAND} -E copy ${KLUSTER_DOCS_DIR}/${path} ${PROJECT_SOURCE_DIR}/${path})
endforeach()

# One page per command, into a directory of its own (rewritten whole, so no stale page survives).
set(KLUSTER_MAN_PAGES_DIR ${KLUSTER_DOCS_DIR}/man-pages)
add_custom_command(
  OUTPUT ${KLUSTER_DOCS_DIR}/man-pages.stamp
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${KLUSTER_MAN_PAGES_DIR}
  COMMAND klusterctl generate man-pages --out ${KLUSTER_MAN_PAGES_DIR}
  COMMAND ${CMAKE_COMMAND} -E touch ${KLUSTER_DOCS_DIR}/man-pages.stamp
  DEPENDS klusterctl
  COMMENT "Generating man/klusterctl-*.1"
  VERBATIM)
list(APPEND _kluster_doc_outputs ${KLUSTER_DOCS_DIR}/man-pages.stamp)
list(APPEND _kluster_doc_copies
     COMMAND ${CMAKE_COMMAND} -DFROM=${KLUSTER_MAN_PAGES_DIR} -DTO=${PROJECT_SOURCE_DIR}/man
             -P ${PROJECT_SOURCE_DIR}/cmake/SyncManPages.cmake)

add_custom_target(docs ALL DEPENDS ${_kluster_doc_outputs})
add_custom_target(update-docs
  ${_kluster_doc_copies}
  DEPENDS docs
  COMMENT "Copying the generated man page and completions to man/ and completions/ (commit them)"
  VERBATIM)

if(KLUSTER_BUILD_TESTS)
  # Each check generates afresh into a temporary directory, so it tests the klusterctl just built.
  set(_kluster_docs_test bash ${PROJECT_SOURCE_DIR}/tests/docs/docs_test.sh)
  add_test(NAME docs.up_to_date
           COMMAND ${_kluster_docs_test} up-to-date $<TARGET_FILE:klusterctl> ${PROJECT_SOURCE_DIR})
  add_test(NAME docs.man_lint COMMAND ${_kluster_docs_test} man-lint $<TARGET_FILE:klusterctl>)
  add_test(NAME docs.bash_completion COMMAND ${_kluster_docs_test} bash-completion $<TARGET_FILE:klusterctl>)
  add_test(NAME docs.fish_completion COMMAND ${_kluster_docs_test} fish-completion $<TARGET_FILE:klusterctl>)
  add_test(NAME docs.every_flag COMMAND ${_kluster_docs_test} every-flag $<TARGET_FILE:klusterctl>)
  set_tests_properties(docs.up_to_date docs.man_lint docs.bash_completion docs.fish_completion docs.every_flag
                       PROPERTIES TIMEOUT 120)
  # Every relative link in README.md, ARCHITECTURE.md, SECURITY.md, docs/, bench/ and scripts/ names a file
  # that exists and, with #anchor, a heading in it.
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  add_test(NAME docs.links COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/tests/docs/links_test.py
                                   ${PROJECT_SOURCE_DIR})
  set_tests_properties(docs.links PROPERTIES TIMEOUT 60)
endif()
