// Token-based rendering of the KOSMA-tau input templates. A placeholder is KT_VAR<name>_ where
// <name> is a kosmatau_parameters column (or CHEM_DATABASE_FILE in the JSON template). Numbers
// are written as the predecessor wrote them so existing KOSMA-tau builds read them unchanged.
#pragma once

#include <string>

#include "pdr/parameters.h"
#include "pdr/status.h"

namespace pdr {

enum class TemplateKind { PdrNew, Json };

// Checks that every placeholder of the template is one this kind can fill; `origin` names the
// file in the error ("templates/PDRNEW.INP.template:12: unknown placeholder KT_VARfoo_").
Status check_template(const std::string& text, TemplateKind kind, const std::string& origin);

// Fills every placeholder from `values` (plus `chem_database_file` for JSON). A placeholder
// without a value is an error.
Result<std::string> render_template(const std::string& text, TemplateKind kind, const ParameterValues& values,
                                    const std::string& chem_database_file, const std::string& origin);

// The predecessor's number format: |v| >= 1000 or |v| < 0.1 -> "%.3e", otherwise "%.6f".
std::string format_real(double v);

}  // namespace pdr
