/** @odoo-module **/
// "Eye" button: opens the invoice PDF, then its complementary attachments, in Odoo's file
// viewer (the server action gives the files; nothing is downloaded beforehand).
import { registry } from "@web/core/registry";
import { _t } from "@web/core/l10n/translation";
import { FileModel } from "@web/core/file_viewer/file_model";
import { createFileViewer } from "@web/core/file_viewer/file_viewer_hook";

function chorusProPreviewFiles(env, action) {
    const files = (action.params?.files || []).map((data) =>
        Object.assign(new FileModel(), { type: "binary" }, data)
    );
    const viewable = files.filter((file) => file.isViewable);
    if (!viewable.length) {
        env.services.notification.add(
            _t("These files cannot be displayed here; download them from the Files tab of the invoice."),
            { type: "warning", title: action.params?.title }
        );
        return;
    }
    if (viewable.length < files.length) {
        env.services.notification.add(
            _t("%s file(s) cannot be displayed here; download them from the Files tab of the invoice.",
               files.length - viewable.length),
            { type: "info", title: action.params?.title }
        );
    }
    createFileViewer().open(viewable[0], viewable);
}

registry.category("actions").add("chorus_pro_preview_files", chorusProPreviewFiles);
