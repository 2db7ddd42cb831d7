# Generates a C++ source holding every migrations/NNNN_name.sql, in order.
file(GLOB files ${DIR}/*.sql)
list(SORT files)
set(body "")
foreach(f ${files})
  get_filename_component(name ${f} NAME_WE)
  string(REGEX MATCH "^[0-9]+" number ${name})
  math(EXPR number "${number}")
  file(READ ${f} sql)
  string(APPEND body "    {${number}, \"${name}\", R\"sbx_sql(${sql})sbx_sql\"},\n")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from migrations/*.sql by cmake/embed_migrations.cmake.\n"
  "#include \"sharebox/storage/migrations.hpp\"\n\n"
  "namespace sharebox::storage {\n"
  "const std::vector<migration>& embedded_migrations() {\n"
  "  static const std::vector<migration> all{\n${body}  };\n  return all;\n}\n"
  "}  // namespace sharebox::storage\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
