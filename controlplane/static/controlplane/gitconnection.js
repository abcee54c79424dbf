// Git connection form: show the fields the chosen provider needs and say what each expects. Plain git hides the
// provider API fieldset (it has no API and no token). The server validates everything again (models.GitConnection).
(function () {
  "use strict";
  var HINTS = {
    github: {api: "empty for github.com, else https://github.example.com/api/v3", repo: "owner/name"},
    gitlab: {api: "empty for gitlab.com, else https://gitlab.example.com", repo: "group/subgroup/project or its id"},
    gitea: {api: "https://git.example.com (required)", repo: "owner/name"}
  };
  function update() {
    var select = document.getElementById("id_provider");
    var fieldset = document.querySelector("fieldset.fp-provider-api");
    if (!select || !fieldset) { return; }
    var hint = HINTS[select.value];
    fieldset.hidden = !hint;
    var merge = document.getElementById("id_merge_policy");
    if (merge) {
      var checks = merge.querySelector("option[value='on-checks']");
      if (checks) { checks.disabled = !hint; }
    }
    if (!hint) { return; }
    var api = document.getElementById("id_api_url");
    var repo = document.getElementById("id_github_repository");
    if (api) { api.placeholder = hint.api; }
    if (repo) { repo.placeholder = hint.repo; }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("id_provider");
    if (select) { select.addEventListener("change", update); }
    update();
  });
})();
