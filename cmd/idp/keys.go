package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/idp/idp/internal/signer"
)

func (a *app) keysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage signing keys and key-encryption keys"}
	cmd.AddCommand(&cobra.Command{
		Use:   "generate-kek",
		Short: "Print a new random key-encryption key (base64) for IDP_KEYS_ENCRYPTION_KEY",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := signer.GenerateKEK()
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, k)
			return nil
		},
	})
	return cmd
}
