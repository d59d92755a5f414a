/** @odoo-module **/
// The worklist as the accountant expects it (issue 14): a motif never changes the decision,
// the motifs offered are the decision's own, Rejetée and Suspendue ask for a confirmation;
// Validation interne ticked and the main document renamed in the table; nothing truncated.
import { registry } from "@web/core/registry";

const REJ = ".o_data_row:contains('TOUR-REJ-0001')";
const SUS = ".o_data_row:contains('TOUR-SUS-0002')";
const MOTIF_INPUT = ".o_chorus_detail_editing .o_chorus_detail_decision_motif_id input";

// The decision chosen on the row, then its usual motifs opened (open: how the motif field is
// entered, a click or typing the start of a motif).
function chooseDecisionAndOpenMotifs(row, label, open = "click") {
    return [
        {
            content: `Edit the decision of ${row}`,
            trigger: `${row} td[name='decision_status']`,
            run: "click",
        },
        {
            content: label,
            trigger: ".o_data_row.o_selected_row td[name='decision_status'] select",
            run: `selectByLabel ${label}`,
        },
        {
            content: `Open the usual motifs of ${label}`,
            trigger: MOTIF_INPUT,
            run: open,
        },
    ];
}

registry.category("web_tour.tours").add("chorus_pro_worklist_motif_tour", {
    steps: () => [
        ...chooseDecisionAndOpenMotifs(SUS, "Service fait"),
        {
            content: "Only the motifs of Service fait are offered (not Service non fait)",
            trigger: ".o-autocomplete--dropdown-menu:has(.dropdown-item:contains('Service fait conforme')):not(:has(.dropdown-item:contains('Service non fait')))",
        },
        {
            content: "Close the motifs",
            trigger: MOTIF_INPUT,
            run: "press Escape",
        },
        {
            content: "Discard the line",
            trigger: ".o_list_button_discard",
            run: "click",
        },
        ...chooseDecisionAndOpenMotifs(REJ, "Rejetée"),
        {
            content: "The motifs of Rejetée, not those of Suspendue",
            trigger: ".o-autocomplete--dropdown-menu:has(.dropdown-item:contains('Montant erroné')):not(:has(.dropdown-item:contains('Bon de commande manquant')))",
        },
        {
            content: "Pick Montant erroné",
            trigger: ".o-autocomplete--dropdown-menu .dropdown-item:contains('Montant erroné')",
            run: "click",
        },
        {
            content: "The motif text is filled",
            trigger: ".o_chorus_detail_editing .o_chorus_detail_decision_motif input:value(/^Montant erroné/)",
        },
        {
            content: "The decision is still Rejetée",
            trigger: `${REJ} td[name='decision_status'] select:has(option:selected:contains('Rejetée'))`,
        },
        {
            content: "The button still rejects (it did not become Confirm)",
            trigger: `${REJ}:not(:has(button.o_chorus_confirm.btn-primary)) button.o_chorus_confirm.btn-danger`,
            run: "click",
        },
        {
            content: "The rejection asks for a confirmation",
            trigger: ".modal-dialog:contains('new invoice with a new number') .modal-footer .btn-secondary",
            run: "click",
        },
        {
            content: "Cancelled: no notification of a decision sent, the line still says Rejetée",
            trigger: `body:not(:has(.modal-dialog)):not(:has(.o_notification_bar.bg-success)) ${REJ} td[name='decision_status']:contains('Rejetée')`,
        },
    ],
});

registry.category("web_tour.tours").add("chorus_pro_worklist_suspend_tour", {
    steps: () => [
        ...chooseDecisionAndOpenMotifs(SUS, "Suspendue", "edit Bon"),
        {
            content: "Pick Bon de commande manquant",
            trigger: ".o-autocomplete--dropdown-menu .dropdown-item:contains('Bon de commande manquant')",
            run: "click",
        },
        {
            content: "The motif text is filled",
            trigger: ".o_chorus_detail_editing .o_chorus_detail_decision_motif input:value(/^Numéro d'engagement/)",
        },
        {
            content: "Suspend the invoice",
            trigger: `${SUS} button.o_chorus_suspend`,
            run: "click",
        },
        {
            content: "Suspendue asks for a confirmation too (one interruption only)",
            trigger: ".modal-dialog:contains('once only') .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "Chorus Pro accepted the suspension",
            trigger: ".o_notification:has(.o_notification_bar.bg-success) .o_notification_content:contains('accepted')",
        },
    ],
});

function notTruncated(selector) {
    const cells = [...document.querySelectorAll(selector)];
    if (!cells.length) {
        throw new Error(`No cell ${selector}`);
    }
    for (const cell of cells) {
        const inner = cell.querySelector(".badge, span, div") || cell;
        if (cell.scrollWidth > cell.clientWidth + 1 || inner.scrollWidth > inner.clientWidth + 1) {
            throw new Error(`Truncated at ${window.innerWidth}px: ${cell.textContent.trim()}`);
        }
    }
}

const ROW = ".o_data_row:contains('TOUR-2026-123456789')";

registry.category("web_tour.tours").add("chorus_pro_worklist_table_tour", {
    steps: () => [
        {
            content: "The worklist shows the Validation interne and Main document columns",
            trigger: ".o_list_table:has(th[data-name='chorus_pro_validated']) th[data-name='main_attachment_name']",
        },
        {
            content: "Numbers and statuses are readable without truncation",
            trigger: `${ROW} td[name='number']`,
            run() {
                notTruncated(".o_data_row td[name='number']");
                notTruncated(".o_data_row td[name='chorus_status']");
            },
        },
        {
            content: "Tick Validation interne on the line",
            trigger: `${ROW} td[name='chorus_pro_validated'] .o_boolean_toggle input`,
            run: "click",
        },
        {
            content: "Saved at once",
            trigger: `${ROW} td[name='chorus_pro_validated'] .o_boolean_toggle input:checked`,
        },
        {
            content: "Rename the main document in the table",
            trigger: `${ROW} td[name='main_attachment_name']`,
            run: "click",
        },
        {
            content: "Type the new name",
            trigger: `.o_selected_row td[name='main_attachment_name'] input`,
            run: "edit Facture mars travaux",
        },
        {
            content: "Save the line",
            trigger: ".o_list_button_save",
            run: "click",
        },
        {
            content: "The new name is shown",
            trigger: `${ROW}:not(.o_selected_row) td[name='main_attachment_name']:contains('Facture mars travaux')`,
        },
    ],
});
