// QK-scores, model baseline, head accuracy, selection and transfer.
