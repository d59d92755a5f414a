/** @odoo-module **/
// The processing screen: open an invoice's PDF with the eye icon, then reject the invoice with a
// usual motif completed by hand; Chorus Pro (the local simulator) accepts it.
import { registry } from "@web/core/registry";

const ROW = ".o_data_row:contains('TOUR-2026-0042')";

registry.category("web_tour.tours").add("chorus_pro_processing_tour", {
    url: "/odoo/action-chorus_pro_liaison.chorus_pro_processing_action",
    steps: () => [
        {
            content: "Open the invoice and its attachments with the eye icon",
            trigger: `${ROW} button.o_chorus_preview`,
            run: "click",
        },
        {
            content: "The invoice PDF is shown in Odoo's viewer",
            trigger: ".o-FileViewer iframe.o-FileViewer-view[src*='pdfjs']",
        },
        {
            content: "Close the viewer",
            trigger: ".o-FileViewer-headerButton[title='Close (Esc)']",
            run: "click",
        },
        {
            content: "Choose the decision on the line",
            trigger: `${ROW} td[name='decision_status']`,
            run: "click",
        },
        {
            content: "Rejetée",
            trigger: ".o_data_row.o_selected_row td[name='decision_status'] select",
            run: "selectByLabel Rejetée",
        },
        {
            content: "The motif unfolds under the line and says what a rejection means",
            trigger: ".o_chorus_detail_row.o_chorus_detail_editing .o_chorus_consequence:contains('new invoice with a new number')",
        },
        {
            content: "Pick a usual motif",
            trigger: ".o_chorus_detail_editing .o_chorus_detail_decision_motif_id input",
            run: "edit Montant",
        },
        {
            content: "Montant erroné",
            trigger: ".o-autocomplete--dropdown-menu .dropdown-item:contains('Montant erroné')",
            run: "click",
        },
        {
            content: "The motif text was filled from the usual motif",
            trigger: ".o_chorus_detail_editing .o_chorus_detail_decision_motif input:value(/^Montant erroné/)",
        },
        {
            content: "Complete the motif",
            trigger: ".o_chorus_detail_editing .o_chorus_detail_decision_motif input",
            run: "edit Montant erroné : le devis accepté indiquait 1 200 € HT",
        },
        {
            content: "Reject the invoice",
            trigger: `${ROW} button.o_chorus_confirm.btn-danger`,
            run: "click",
        },
        {
            content: "Confirm after reading the consequence",
            trigger: ".modal-dialog:contains('new invoice with a new number') .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "Chorus Pro accepted the rejection",
            trigger: ".o_notification:has(.o_notification_bar.bg-success) .o_notification_content:contains('accepted')",
        },
    ],
});
