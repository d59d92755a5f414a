/** @odoo-module **/
// From a validated bordereau's form: "Générer le flux PES", then "Signer" with the PIN of the
// RGS** key (a SoftHSM2 token prepared by the Python test), which checks the signed file with
// xmlsec1 afterwards.
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("chorus_pro_pes_tour", {
    steps: () => [
        {
            content: "The bordereau is validated: its PES file can be generated",
            trigger: ".o_form_view .o_statusbar_status .o_arrow_button_current:contains('Validated')",
        },
        {
            content: "Générer le flux PES",
            trigger: "button.o_chorus_pes_generate",
            run: "click",
        },
        {
            content: "The file is generated and can be downloaded",
            trigger: ".o_statusbar_status .o_arrow_button_current:contains('PES generated')",
        },
        {
            content: "Its mandates are listed in the PES tab",
            trigger: ".o_notebook .o_field_widget[name='pes_piece_ids'] .o_data_row",
        },
        {
            content: "Signer",
            trigger: "button.o_chorus_pes_sign",
            run: "click",
        },
        {
            content: "The PIN of the key is asked",
            trigger: ".modal .o_field_widget[name='pin'] input",
            run: "edit 2580",
        },
        {
            content: "Sign",
            trigger: ".modal button.o_chorus_pes_sign_confirm",
            run: "click",
        },
        {
            content: "The bordereau is signed",
            trigger: ".o_statusbar_status .o_arrow_button_current:contains('Signed')",
        },
        {
            content: "The signer's certificate is shown",
            trigger: ".o_field_widget[name='pes_signer']:contains('Jeanne Ordonnatrice')",
        },
        {
            content: "It can be downloaded and handed over",
            trigger: "button.o_chorus_pes_sent",
        },
    ],
});
