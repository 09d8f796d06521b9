# Compiler settings live in INTERFACE targets that every project target links.
add_library(kluster_warnings INTERFACE)
target_compile_options(kluster_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
if(KLUSTER_WERROR)
  target_compile_options(kluster_warnings INTERFACE -Werror)
endif()

add_library(kluster_sanitizers INTERFACE)
if(KLUSTER_SANITIZE)
  target_compile_options(kluster_sanitizers INTERFACE -fsanitize=${KLUSTER_SANITIZE} -fno-omit-frame-pointer)
  target_link_options(kluster_sanitizers INTERFACE -fsanitize=${KLUSTER_SANITIZE})
endif()

add_library(kluster_settings INTERFACE)
target_link_libraries(kluster_settings INTERFACE kluster_warnings kluster_sanitizers)

find_program(CLANG_FORMAT clang-format)
if(CLANG_FORMAT)
  file(GLOB_RECURSE KLUSTER_FORMAT_SOURCES CONFIGURE_DEPENDS
       ${PROJECT_SOURCE_DIR}/src/*.cpp ${PROJECT_SOURCE_DIR}/src/*.hpp
       ${PROJECT_SOURCE_DIR}/tests/*.cpp ${PROJECT_SOURCE_DIR}/tests/*.hpp
       ${PROJECT_SOURCE_DIR}/bench/*.cpp)
  add_custom_target(format COMMAND ${CLANG_FORMAT} -i ${KLUSTER_FORMAT_SOURCES})
  add_custom_target(check-format COMMAND ${CLANG_FORMAT} --dry-run --Werror ${KLUSTER_FORMAT_SOURCES})
endif()
