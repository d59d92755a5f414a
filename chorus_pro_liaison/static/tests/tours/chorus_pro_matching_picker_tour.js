/** @odoo-module **/
// The tiers screen: a supplier's line opens the matching screen, "…" lists every partner over
// it and brings the one chosen back into it; the invoice's PDF and files open in Odoo's viewer
// over it (no new tab, the screen stays); Valider says what it did.
import { browser } from "@web/core/browser/browser";
import { registry } from "@web/core/registry";

const OTHER = "Autre Fournisseur Choisi SAS";
const OTHER_CONTACT = "Contact Caché du tour";
// Every tab opened from the moment the guard is set: Odoo's actions open theirs with
// browser.open (a bound copy of window.open, taken when the page loaded); a few widgets call
// window.open itself. Both are recorded and refused.
const openedTabs = [];

function refuseNewTabs() {
    const refuse = (url) => {
        openedTabs.push(String(url));
        throw new Error(`A new tab was opened: ${url}`);
    };
    browser.open = refuse;
    window.open = refuse;
}

function assertNoNewTab() {
    if (openedTabs.length) {
        throw new Error(`A new tab was opened: ${openedTabs.join(", ")}`);
    }
}

// The button opens what it shows in Odoo's viewer, over the matching screen that stays; then the
// viewer is closed.
function shownOverTheMatchingScreen(button, what, viewer) {
    return [
        {
            content: `Open ${what} of the invoice`,
            trigger: `body:not(:has(.o-FileViewer)) .modal button[name='${button}']`,
            run: "click",
        },
        {
            content: `${what} shown in Odoo's viewer, the matching screen stays`,
            trigger: viewer,
            run() {
                assertNoNewTab();
                if (!document.querySelector(".modal .o_chorus_match_chorus_side")) {
                    throw new Error(`The matching screen was left to show ${what}`);
                }
            },
        },
        {
            content: "Close the viewer",
            trigger: ".o-FileViewer .o-FileViewer-headerButton[aria-label='Close']",
            run: "click",
        },
    ];
}

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
            content: "Opening the invoice's files must not open a new tab",
            trigger: ".modal .o_chorus_match_chorus_side",
            run: refuseNewTabs,
        },
        ...shownOverTheMatchingScreen("action_open_pdf", "the PDF", ".o-FileViewer iframe.o-FileViewer-view"),
        ...shownOverTheMatchingScreen("action_open_files", "the files", ".o-FileViewer .o-FileViewer-view"),
        {
            content: "Back on the matching screen, no tab opened",
            trigger: "body:not(:has(.o-FileViewer)) .modal .o_chorus_match_chorus_side",
            run: assertNoNewTab,
        },
        {
            content: "Open the list of all partners with …",
            trigger: ".modal .o_chorus_match_more",
            run: "click",
        },
        {
            content: "Search a contact of a company",
            trigger: ".modal:not(:has(.o_chorus_match_more)) .o_searchview_input",
            run: `edit ${OTHER_CONTACT}`,
        },
        {
            trigger: ".modal:not(:has(.o_chorus_match_more)) .o_searchview_input",
            run: "press Enter",
        },
        {
            content: "A contact is not offered: the list keeps to the field's partners",
            trigger: ".modal:not(:has(.o_chorus_match_more)) .o_searchview .o_facet_value:contains('Contact Caché')",
        },
        {
            trigger: ".modal:not(:has(.o_chorus_match_more)) .o_list_renderer:not(:has(.o_data_row))",
        },
        {
            content: "Clear the search",
            trigger: ".modal:not(:has(.o_chorus_match_more)) .o_searchview .o_facet_remove",
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
