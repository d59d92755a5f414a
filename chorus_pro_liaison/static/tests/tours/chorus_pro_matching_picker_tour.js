/** @odoo-module **/
// The tiers screen: a supplier's line opens the matching screen, "…" lists every partner over
// it and brings the one chosen back into it; Valider says what it did.
import { registry } from "@web/core/registry";

const OTHER = "Autre Fournisseur Choisi SAS";

registry.category("web_tour.tours").add("chorus_pro_matching_picker_tour", {
    steps: () => [
        {
            content: "Unfold the supplier's group",
            trigger: ".o_group_header:contains('Fournisseur du tour')",
            run: "click",
        },
        {
            content: "Click the supplier's line: the matching screen opens",
            trigger: ".o_data_row:contains('Fournisseur du tour') td[name='supplier_name']",
            run: "click",
        },
        {
            content: "The matching screen",
            trigger: ".modal .o_chorus_match_chorus_side .o_field_widget[name='supplier_name']:contains('Fournisseur du tour')",
        },
        {
            content: "Open the list of all partners with …",
            trigger: ".modal .o_chorus_match_more",
            run: "click",
        },
        {
            content: "Search the partner",
            trigger: ".modal:not(:has(.o_chorus_match_more)) .o_searchview_input",
            run: `edit ${OTHER}`,
        },
        {
            trigger: ".modal:not(:has(.o_chorus_match_more)) .o_searchview_input",
            run: "press Enter",
        },
        {
            content: "Choose it",
            trigger: `.modal:not(:has(.o_chorus_match_more)) .o_data_row:contains('${OTHER}') td.o_data_cell`,
            run: "click",
        },
        {
            content: "Back in the same matching screen (one dialog), the partner chosen is in it",
            trigger: `.modal .o_chorus_match_partner input:value('${OTHER}')`,
            run() {
                const dialogs = document.querySelectorAll(".modal");
                if (dialogs.length !== 1 || !dialogs[0].querySelector(".o_chorus_match_chorus_side")) {
                    throw new Error("The matching screen was replaced instead of kept");
                }
            },
        },
        {
            content: "Valider",
            trigger: ".modal .o_chorus_match_confirm",
            run: "click",
        },
        {
            content: "It says what it did",
            trigger: `.o_notification:has(.o_notification_bar.bg-success) .o_notification_content:contains('${OTHER}')`,
        },
        {
            content: "The screen is closed",
            trigger: "body:not(:has(.modal))",
        },
    ],
});
