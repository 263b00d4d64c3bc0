package gen

import (
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
)

func rbacObject(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "rbac.authorization.k8s.io/v1/ClusterRole":
		return &rbacv1.ClusterRole{}, nil
	case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}, nil
	}
	return nil, fmt.Errorf("unknown kind %s %s", apiVersion, kind)
}
