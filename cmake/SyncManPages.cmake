# Replaces the committed per-command man pages (man/klusterctl-*.1) with the generated ones, so a page
# whose command is gone does not linger. Run by the update-docs target:
#   cmake -DFROM=build/docs/man-pages -DTO=man -P cmake/SyncManPages.cmake
file(GLOB _old "${TO}/klusterctl-*.1")
if(_old)
  file(REMOVE ${_old})
endif()
file(GLOB _new "${FROM}/klusterctl-*.1")
file(COPY ${_new} DESTINATION "${TO}")
